//! Sentence segmentation of speakable text, decided as early as it is certain.
//!
//! A line break always ends a sentence (the Markdown renderer puts each block on its own
//! line). Inside a line, a terminator ends a sentence when it is followed by whitespace and
//! the start of a next sentence; abbreviations ("Dr.", "e.g.", "U.S."), initials, decimals and
//! versions ("3.14", "v2.1.0"), file names ("main.rs"), ellipses, quotes and list markers
//! ("1.)", "a.", "•") are told apart as in the Pragmatic Segmenter's golden rules.
//!
//! [`scan`] works on a prefix too: with `complete = false` it reports only the sentences whose
//! end can no longer change, however the text continues.

use crate::abbrev;

/// Whole plain-text segmentation: every sentence, trimmed.
pub fn split_sentences(text: &str) -> Vec<String> {
    scan(text, true)
        .spans
        .into_iter()
        .map(|(a, b)| text[a..b].to_owned())
        .collect()
}

/// What [`scan`] found in a (possibly partial) text.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Byte ranges of the sentences whose end is certain, trimmed, in order.
    pub spans: Vec<(usize, usize)>,
    /// Where the unfinished sentence starts (the text length when there is none).
    pub pending: usize,
    /// Everything before this offset is decided: no further boundary can appear in
    /// `pending..decided`, whatever follows.
    pub decided: usize,
}

/// Segments `text`. With `complete`, the end of the text ends the last sentence; without,
/// the trailing sentence (and anything waiting for the next word) stays pending.
pub(crate) fn scan(text: &str, complete: bool) -> Scan {
    let mut out = Scan::default();
    let mut line_start = 0;
    loop {
        let (line_end, has_nl) = match memchr_nl(&text.as_bytes()[line_start..]) {
            Some(p) => (line_start + p, true),
            None => (text.len(), false),
        };
        let open = !has_nl && !complete;
        let (pending, decided) = scan_line(text, line_start, line_end, open, &mut out.spans);
        if !has_nl {
            if open {
                out.pending = pending;
                out.decided = decided;
            } else {
                out.pending = text.len();
                out.decided = text.len();
            }
            return out;
        }
        line_start = line_end + 1;
    }
}

#[inline]
fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

enum Decision {
    /// The sentence ends at `end`; the next one starts at `next`.
    Split { end: usize, next: usize },
    /// Not a boundary; go on scanning at `to`.
    No { to: usize },
    /// The text stops before the decision can be made.
    NeedMore,
}

#[inline]
fn char_at(s: &str, i: usize) -> char {
    let b = s.as_bytes()[i];
    if b < 0x80 {
        b as char
    } else {
        s[i..].chars().next().unwrap_or(' ')
    }
}

#[inline]
fn is_bullet(c: char) -> bool {
    matches!(c, '•' | '⁃' | '◦' | '‣' | '▪' | '∙')
}

#[inline]
fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | ')' | ']' | '”' | '’' | '»')
}

#[inline]
fn is_opener(c: char) -> bool {
    matches!(c, '"' | '\'' | '(' | '[' | '“' | '‘' | '«' | '¿' | '¡')
}

fn skip_ws(s: &str, mut i: usize) -> usize {
    while i < s.len() {
        let c = char_at(s, i);
        if !c.is_whitespace() {
            break;
        }
        i += c.len_utf8();
    }
    i
}

fn push_span(spans: &mut Vec<(usize, usize)>, base: usize, line: &str, a: usize, b: usize) {
    let s = &line[a..b];
    let t = s.trim_start();
    let a2 = a + (s.len() - t.len());
    let t = t.trim_end();
    if !t.is_empty() {
        spans.push((base + a2, base + a2 + t.len()));
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Marker {
    Num(u32, u8),
    Alpha(u8, u8),
}

enum MarkerAt {
    Found(Marker),
    None,
    NeedMore,
}

/// A list marker starting at `i`: "12." / "12.)" / "12)" or "a." / "a)", then whitespace.
fn list_marker(line: &str, i: usize, open: bool) -> MarkerAt {
    let b = line.as_bytes();
    let mut j = i;
    let mut n: u32 = 0;
    while j < b.len() && b[j].is_ascii_digit() && j - i < 3 {
        n = n * 10 + u32::from(b[j] - b'0');
        j += 1;
    }
    let alpha = j == i;
    if alpha {
        if !b[i].is_ascii_lowercase() {
            return MarkerAt::None;
        }
        j += 1;
    }
    let style = match (b.get(j), b.get(j + 1)) {
        (Some(b'.'), Some(b')')) => {
            j += 2;
            b'>'
        }
        (Some(b'.'), _) => {
            j += 1;
            b'.'
        }
        (Some(b')'), _) => {
            j += 1;
            b')'
        }
        (None, _) if open => return MarkerAt::NeedMore,
        _ => return MarkerAt::None,
    };
    match b.get(j) {
        None if open => MarkerAt::NeedMore,
        Some(c) if c.is_ascii_whitespace() => MarkerAt::Found(if alpha {
            Marker::Alpha(b[i], style)
        } else {
            Marker::Num(n, style)
        }),
        _ => MarkerAt::None,
    }
}

/// The first word position of a sentence starting at `start` (past bullets and openers).
fn first_token(line: &str, mut i: usize) -> usize {
    while i < line.len() {
        let c = char_at(line, i);
        if !(c.is_whitespace() || is_bullet(c) || is_opener(c)) {
            break;
        }
        i += c.len_utf8();
    }
    i
}

/// Scans one line; returns (pending start, decided offset) as absolute offsets.
fn scan_line(
    text: &str,
    base: usize,
    end: usize,
    open: bool,
    spans: &mut Vec<(usize, usize)>,
) -> (usize, usize) {
    let line = &text[base..end];
    let b = line.as_bytes();
    let mut start = skip_ws(line, 0);
    let mut i = start;
    let mut at_token = true;
    let mut last_marker: Option<Marker> = None;
    while i < b.len() {
        let c = char_at(line, i);
        let clen = c.len_utf8();
        if at_token && !c.is_whitespace() {
            if is_bullet(c) {
                if line[start..i].chars().any(char::is_alphanumeric) {
                    push_span(spans, base, line, start, i);
                    start = i;
                }
                i += clen;
                continue;
            }
            if c.is_ascii_digit() || c.is_ascii_lowercase() {
                match list_marker(line, i, open) {
                    MarkerAt::NeedMore => return (base + start, base + i),
                    MarkerAt::Found(m) => {
                        let continues = match (last_marker, m) {
                            (Some(Marker::Num(p, s)), Marker::Num(n, t)) => p + 1 == n && s == t,
                            (Some(Marker::Alpha(p, s)), Marker::Alpha(n, t)) => {
                                p + 1 == n && s == t
                            }
                            _ => false,
                        };
                        if continues && line[start..i].chars().any(char::is_alphanumeric) {
                            push_span(spans, base, line, start, i);
                            start = i;
                        }
                        last_marker = Some(m);
                    }
                    MarkerAt::None => {}
                }
            }
        }
        if matches!(c, '.' | '!' | '?' | '…') {
            match decide(line, i, start, open) {
                Decision::Split { end, next } => {
                    push_span(spans, base, line, start, end);
                    start = next;
                    i = next;
                    at_token = true;
                }
                Decision::No { to } => {
                    i = to.max(i + clen);
                    at_token = false;
                }
                Decision::NeedMore => return (base + start, base + i),
            }
            continue;
        }
        at_token = c.is_whitespace();
        i += clen;
    }
    if open {
        (base + start, base + b.len())
    } else {
        push_span(spans, base, line, start, b.len());
        (base + b.len(), base + b.len())
    }
}

/// Is the terminator at `i` the end of a sentence that began at `start`?
fn decide(line: &str, i: usize, start: usize, open: bool) -> Decision {
    let b = line.as_bytes();
    let len = b.len();
    let attached = i > start && !char_at(line, prev_char(line, i)).is_whitespace();
    let (mut dots, mut strong, mut spaced) = (0usize, false, false);
    let mut j = i;
    while j < len {
        match b[j] {
            b'.' => {
                dots += 1;
                j += 1;
            }
            b'!' | b'?' => {
                strong = true;
                j += 1;
            }
            0xE2 if line[j..].starts_with('…') => {
                dots += 3;
                j += 3;
            }
            b' ' if !strong && dots > 0 && b.get(j + 1) == Some(&b'.') => {
                spaced = true;
                j += 1;
            }
            _ => break,
        }
    }
    let run_end = j;
    while j < len && is_closer(char_at(line, j)) {
        j += char_at(line, j).len_utf8();
    }
    // At the end of the line: the line break decides, or the text is still coming.
    let at_end = |to: usize| {
        if open {
            Decision::NeedMore
        } else {
            Decision::No { to }
        }
    };
    if j == len {
        return at_end(j);
    }
    if !char_at(line, j).is_whitespace() {
        return Decision::No { to: run_end };
    }
    let m = skip_ws(line, j);
    let mut n = m;
    while n < len && is_opener(char_at(line, n)) {
        n += char_at(line, n).len_utf8();
    }
    if n == len {
        return at_end(m);
    }
    let c = char_at(line, n);
    let upper = c.is_uppercase();
    let starts = upper || c.is_numeric() || (c.is_alphabetic() && !c.is_lowercase());
    let split = Decision::Split { end: j, next: m };
    let no = Decision::No { to: j };
    if strong {
        return if starts { split } else { no };
    }
    match dots {
        3 => return no,
        d if d >= 4 => {
            return match (starts, attached && spaced) {
                (false, _) => no,
                // "compounds. . . . The": a period, then an ellipsis opening the next one.
                (true, true) => Decision::Split {
                    end: i + 1,
                    next: i + 2,
                },
                (true, false) => split,
            };
        }
        _ => {}
    }
    // A single period: look at the word before it.
    let mut tok = i;
    while tok > start {
        let p = prev_char(line, tok);
        let pc = char_at(line, p);
        if pc.is_whitespace() || is_bullet(pc) {
            break;
        }
        tok = p;
    }
    while tok < i && is_opener(char_at(line, tok)) {
        tok += char_at(line, tok).len_utf8();
    }
    let word = &line[tok..i];
    if tok == first_token(line, start) && is_marker_word(word) {
        return no; // "1. The first item", "a. The first item"
    }
    if abbrev::is_abbreviation(word) {
        if !upper {
            return no;
        }
        if abbrev::ends_sentences(word) {
            return split;
        }
        let mut e = n;
        while e < len && char_at(line, e).is_alphabetic() {
            e += char_at(line, e).len_utf8();
        }
        if e == len && open {
            return Decision::NeedMore;
        }
        return if abbrev::is_starter(&line[n..e]) {
            split
        } else {
            no
        };
    }
    if starts || (c.is_lowercase() && j == run_end) {
        split
    } else {
        no
    }
}

fn is_marker_word(w: &str) -> bool {
    let b = w.as_bytes();
    (!b.is_empty() && b.len() <= 3 && b.iter().all(u8::is_ascii_digit))
        || (b.len() == 1 && b[0].is_ascii_alphabetic())
}

#[inline]
fn prev_char(s: &str, i: usize) -> usize {
    let mut p = i - 1;
    while !s.is_char_boundary(p) {
        p -= 1;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_lines() {
        assert_eq!(
            split_sentences("Use v2.1.0 in main.rs. It works! Then e.g. this\nNext line"),
            [
                "Use v2.1.0 in main.rs.",
                "It works!",
                "Then e.g. this",
                "Next line"
            ]
        );
    }

    #[test]
    fn prefix_is_pending_until_next_sentence_starts() {
        let s = scan("One here. Two", false);
        assert_eq!(s.spans, [(0, 9)]);
        let s = scan("One here. ", false);
        assert!(s.spans.is_empty());
        let s = scan("Ask Dr. Sm", false);
        assert!(s.spans.is_empty());
        assert_eq!(s.pending, 0);
    }
}
