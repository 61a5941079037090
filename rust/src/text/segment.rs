//! Sentence segmentation of speakable text, decided as early as it is certain.
//!
//! A line break always ends a sentence (the Markdown renderer puts each block on its own
//! line). Inside a line, a terminator ends a sentence when it is followed by whitespace and
//! the start of a next sentence; abbreviations ("Dr.", "e.g.", "U.S."), initials, decimals and
//! versions ("3.14", "v2.1.0"), file names ("main.rs"), ellipses, quotes and list markers
//! ("1.)", "a.", "•") are told apart as in the Pragmatic Segmenter's golden rules.
//!
//! `scan` works on a prefix too: with `complete = false` it reports only the sentences whose
//! end can no longer change, however the text continues (the first word of the next
//! sentence must be complete, since its first character alone may still change).

use super::abbrev;

/// Whole plain-text segmentation: every sentence, trimmed.
pub fn split_sentences(text: &str) -> Vec<String> {
    scan(text, true)
        .spans
        .into_iter()
        .map(|(a, b)| text[a..b].to_owned())
        .collect()
}

/// What [`scan`] found in a (possibly partial) text.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scan {
    /// Byte ranges of the sentences whose end is certain, trimmed, in order.
    pub spans: Vec<(usize, usize)>,
    /// Where the unfinished sentence starts (the text length when there is none).
    pub pending: usize,
    /// Everything before this offset is decided: no further boundary can appear in
    /// `pending..decided`, whatever follows.
    pub decided: usize,
    /// Where an open scan can go on from: the pending sentence's start and what the scan
    /// knew there (see [`scan_from`]).
    pub resume: Option<Resume>,
}

/// The state of a scan at the start of the pending sentence.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Resume {
    line_start: usize,
    /// The pending sentence's start (`Scan::pending`).
    pub start: usize,
    /// The last list marker before `start`; `None` when `start` is the line's first
    /// sentence (the scan goes on from the line start then).
    marker: Option<Option<Marker>>,
    spans: usize,
}

/// Segments `text`. With `complete`, the end of the text ends the last sentence; without,
/// the trailing sentence (and anything waiting for the next word) stays pending.
pub(crate) fn scan(text: &str, complete: bool) -> Scan {
    let mut out = Scan::default();
    scan_into(text, complete, &mut out);
    out
}

/// [`scan`] into a reused result.
pub(crate) fn scan_into(text: &str, complete: bool, out: &mut Scan) {
    out.spans.clear();
    scan_lines(text, complete, out, 0, None);
}

/// [`scan_into`] for a text whose bytes before `from.start` are those of the text an open
/// scan left `from` in `out` for (its spans are kept, the scan goes on from there). A scan
/// looks back from a position no further than the start of the sentence it is in, and the
/// spans before that start were certain, so this is what scanning the text afresh gives.
pub(crate) fn scan_from(text: &str, complete: bool, out: &mut Scan, from: Resume) {
    out.spans.truncate(from.spans);
    let state = from.marker.map(|m| (from.start - from.line_start, m));
    scan_lines(text, complete, out, from.line_start, state);
}

fn scan_lines(
    text: &str,
    complete: bool,
    out: &mut Scan,
    mut line_start: usize,
    mut state: Option<(usize, Option<Marker>)>,
) {
    loop {
        let (line_end, has_nl) = match memchr_nl(&text.as_bytes()[line_start..]) {
            Some(p) => (line_start + p, true),
            None => (text.len(), false),
        };
        let open = !has_nl && !complete;
        let (pending, decided, marker) = scan_line(
            text,
            line_start,
            line_end,
            open,
            &mut out.spans,
            state.take(),
        );
        if !has_nl {
            if open {
                out.pending = pending;
                out.decided = decided;
                out.resume = Some(Resume {
                    line_start,
                    start: pending,
                    marker,
                    spans: out.spans.len(),
                });
            } else {
                out.pending = text.len();
                out.decided = text.len();
                out.resume = None;
            }
            return;
        }
        line_start = line_end + 1;
    }
}

#[inline]
fn memchr_nl(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', b)
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

/// Punctuation that ends a sentence.
#[inline]
pub(crate) fn is_terminator(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…')
}

/// Whether `text` ends with a terminator, maybe followed by closing quotes and brackets;
/// with `clause`, a colon or semicolon counts too (a rendered line that ends so needs no
/// period added).
#[inline]
pub(crate) fn ends_with_terminator(text: &str, clause: bool) -> bool {
    text.trim_end_matches(is_closer)
        .ends_with(|c| is_terminator(c) || (clause && matches!(c, ':' | ';')))
}

/// A closing quote or bracket, which may stand after a sentence's final punctuation.
#[inline]
pub(crate) fn is_closer(c: char) -> bool {
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

#[derive(Clone, Copy, PartialEq, Debug)]
enum Marker {
    Num(u32, u8),
    Alpha(u8, u8),
}

enum MarkerAt<T> {
    Found(T),
    None,
    NeedMore,
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

/// Scans one line; returns (pending start, decided offset) as absolute offsets, and the
/// last list marker seen before the pending start. `state`: go on from this sentence start
/// (relative to the line) with this last marker.
///
/// Only a few bytes can matter: terminators ('.', '!', '?'), ')' of list markers, and 0xE2,
/// the lead byte of '…' and of the bullets. The scan jumps between them with memchr.
fn scan_line(
    text: &str,
    base: usize,
    end: usize,
    open: bool,
    spans: &mut Vec<(usize, usize)>,
    state: Option<(usize, Option<Marker>)>,
) -> (usize, usize, Option<Option<Marker>>) {
    let line = &text[base..end];
    let b = line.as_bytes();
    // Without a state: the line's first sentence, whose start depends on the whitespace
    // that begins the line (which may still grow at the end of the text).
    let (mut start, mut last_marker) = state.unwrap_or_else(|| (skip_ws(line, 0), None));
    // The last marker as it was when `start` was set: scanning from `start` again sees the
    // markers after it anew. `None` as a whole while `start` is the line's first.
    let mut marker_at_start = state.map(|(_, m)| m);
    let mut i = start;
    let (mut next_term, mut next_paren, mut next_e2) = (0, 0, 0);
    loop {
        if next_term < i {
            next_term = memchr::memchr3(b'.', b'!', b'?', &b[i..]).map_or(b.len(), |p| p + i);
        }
        if next_paren < i {
            next_paren = memchr::memchr(b')', &b[i..]).map_or(b.len(), |p| p + i);
        }
        if next_e2 < i {
            next_e2 = memchr::memchr(0xE2, &b[i..]).map_or(b.len(), |p| p + i);
        }
        let p = next_term.min(next_paren).min(next_e2);
        if p >= b.len() {
            break;
        }
        let c = char_at(line, p);
        if is_bullet(c) {
            if at_token_start(line, p) && line[start..p].chars().any(char::is_alphanumeric) {
                push_span(spans, base, line, start, p);
                start = p;
                marker_at_start = Some(last_marker);
            }
            i = p + c.len_utf8();
            continue;
        }
        if c == '.' || c == ')' {
            match marker_ending_at(line, p, open) {
                MarkerAt::NeedMore => return (base + start, base + p, marker_at_start),
                MarkerAt::Found((t, m)) => {
                    let continues = match (last_marker, m) {
                        (Some(Marker::Num(x, s)), Marker::Num(y, t)) => x + 1 == y && s == t,
                        (Some(Marker::Alpha(x, s)), Marker::Alpha(y, t)) => x + 1 == y && s == t,
                        _ => false,
                    };
                    if continues && t >= start && line[start..t].chars().any(char::is_alphanumeric)
                    {
                        push_span(spans, base, line, start, t);
                        start = t;
                        marker_at_start = Some(last_marker);
                    }
                    last_marker = Some(m);
                }
                MarkerAt::None => {}
            }
        }
        if is_terminator(c) {
            match decide(line, p, start, open) {
                Decision::Split { end, next } => {
                    push_span(spans, base, line, start, end);
                    start = next;
                    marker_at_start = Some(last_marker);
                    i = next;
                }
                Decision::No { to } => i = to.max(p + c.len_utf8()),
                Decision::NeedMore => return (base + start, base + p, marker_at_start),
            }
            continue;
        }
        i = p + c.len_utf8();
    }
    if open {
        (base + start, base + b.len(), marker_at_start)
    } else {
        push_span(spans, base, line, start, b.len());
        (base + b.len(), base + b.len(), marker_at_start)
    }
}

/// `p` starts a token: at the line start, after whitespace or after a bullet.
fn at_token_start(line: &str, p: usize) -> bool {
    if p == 0 {
        return true;
    }
    let c = char_at(line, prev_char(line, p));
    c.is_whitespace() || is_bullet(c)
}

/// A list marker whose '.' or ')' is at `p`: "12." / "12.)" / "12)" or "a." / "a)", at a
/// token start and followed by whitespace. Returns where the marker starts.
fn marker_ending_at(line: &str, p: usize, open: bool) -> MarkerAt<(usize, Marker)> {
    let b = line.as_bytes();
    // "1.)": the ')' of a marker whose '.' was already seen.
    if b[p] == b')' && p > 0 && b[p - 1] == b'.' {
        return MarkerAt::None;
    }
    let mut t = p;
    while t > 0 && p - t < 3 && b[t - 1].is_ascii_digit() {
        t -= 1;
    }
    let alpha = t == p;
    if alpha {
        if p == 0 || !b[p - 1].is_ascii_lowercase() {
            return MarkerAt::None;
        }
        t = p - 1;
    }
    if !at_token_start(line, t) {
        return MarkerAt::None;
    }
    let (style, after) = match (b[p], b.get(p + 1)) {
        (b'.', Some(b')')) => (b'>', p + 2),
        (b'.', _) => (b'.', p + 1),
        _ => (b')', p + 1),
    };
    match b.get(after) {
        None if open => MarkerAt::NeedMore,
        Some(c) if c.is_ascii_whitespace() => {
            let m = if alpha {
                Marker::Alpha(b[t], style)
            } else {
                Marker::Num(line[t..p].parse().unwrap_or(0), style)
            };
            MarkerAt::Found((t, m))
        }
        _ => MarkerAt::None,
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
    // In a prefix, the next word must be complete: its first character alone can still
    // change ("=" becomes "==", which is dropped; "h" becomes a URL spoken as its host).
    if open && !b[n..].iter().any(u8::is_ascii_whitespace) {
        return Decision::NeedMore;
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
            // After "…" ("wait… . Then", "12.…") an offset of the split below would fall
            // inside a character: there is no period of its own to split after there.
            let own_period = line.is_char_boundary(i + 1) && line.is_char_boundary(i + 2);
            return match (starts, attached && spaced && own_period) {
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
    use crate::test_data as data;

    #[test]
    fn basic_and_lines() {
        assert_eq!(split_sentences("Wait… . Then"), ["Wait… .", "Then"]);
        assert_eq!(
            split_sentences("A 12.…... ... Then"),
            ["A 12.…... ...", "Then"]
        );
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

    /// Whatever a prefix of the text says is certain, the whole text agrees with.
    #[test]
    fn certain_spans_of_prefixes_are_final() {
        if !data::have_data() {
            return;
        }
        let path = data::data_dir().join("golden_rules_en.json");
        let raw = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("test data {} is missing ({e})", path.display()));
        let data: serde_json::Value = serde_json::from_str(&raw).expect("golden rules JSON");
        let mut texts: Vec<String> = data["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .map(|c| c["text"].as_str().expect("text").to_owned())
            .collect();
        texts.push("Dr. Smith met Mr. Jones. Then they left... Quietly! 1. a b 2. c d".into());
        for text in &texts {
            let full = scan(text, true).spans;
            for (cut, _) in text.char_indices() {
                let part = scan(&text[..cut], false);
                assert!(
                    full.starts_with(&part.spans),
                    "{text:?} cut at {cut}: {:?} vs {full:?}",
                    part.spans
                );
                assert!(part.pending <= part.decided && part.decided <= cut);
            }
        }
    }

    /// Going on from where a scan of a prefix stopped gives what scanning afresh gives.
    #[test]
    fn scan_from_is_scan_afresh() {
        const PIECES: &[&str] = &[
            "One", " two", ". ", "! ", "? ", "\n", " ", "Dr. ", "e.g. ", "U.S. ", "3.14", "1. ",
            "2. ", "3) ", "a. ", "b. ", "• ", "…", "... ", "\"", ")", "The", "it", "Etc. ", "x",
            "v2.1.0 ", "main.rs", "12.", ".)", "(", "I", "A",
        ];
        let mut rng = fastrand::Rng::with_seed(3);
        let cases = if cfg!(debug_assertions) {
            20_000
        } else {
            200_000
        };
        let mut a = Scan::default();
        let mut b = Scan::default();
        for case in 0..cases {
            let n = rng.usize(1..30);
            let text: String = (0..n).map(|_| PIECES[rng.usize(..PIECES.len())]).collect();
            let mut cut = 0;
            scan_into("", false, &mut a);
            while cut < text.len() {
                let mut next = (cut + rng.usize(1..8)).min(text.len());
                while !text.is_char_boundary(next) {
                    next += 1;
                }
                let complete = next == text.len() && rng.bool();
                let Some(from) = a.resume else { break };
                scan_from(&text[..next], complete, &mut a, from);
                scan_into(&text[..next], complete, &mut b);
                assert_eq!(
                    (&a.spans, a.pending, a.decided),
                    (&b.spans, b.pending, b.decided),
                    "case {case}: {:?} after {:?}",
                    &text[..next],
                    &text[..cut]
                );
                cut = next;
            }
        }
    }

    #[test]
    fn prefix_is_pending_until_next_sentence_starts() {
        let s = scan("One here. Two", false);
        assert!(s.spans.is_empty());
        let s = scan("One here. Two ", false);
        assert_eq!(s.spans, [(0, 9)]);
        let s = scan("One here. ", false);
        assert!(s.spans.is_empty());
        let s = scan("Ask Dr. Sm", false);
        assert!(s.spans.is_empty());
        assert_eq!(s.pending, 0);
    }
}
