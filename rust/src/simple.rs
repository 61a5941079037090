//! The renderer's result for the commonest blocks without running the Markdown parser: one
//! paragraph, one list item or one ATX heading whose text has no links, HTML, entities,
//! escapes or tables, and no code span across a line. Constructing a parser costs about as
//! much as rendering a 100-byte sentence, and a streaming shaper renders its open paragraph
//! again at every possible sentence end.
//!
//! What the parser would find in such a block is only code spans and emphasis. Emphasis is
//! transparent to the renderer by design: a matched delimiter becomes a `*` stand-in that is
//! dropped like the literal one (see `markdown::Renderer::start`), and a `_` between two
//! word characters, the only delimiter that speaks (as a space), never opens or closes
//! emphasis. So the text between code spans is the block's source with its line breaks,
//! which the writers collapse like the parser's soft breaks. Anything else returns `None`
//! and goes to the parser; `tests::same_as_parser` checks the equivalence on random blocks.

use crate::scrub;

/// Bytes that may start inline syntax we do not handle here (links, autolinks and HTML,
/// entities, escapes and hard breaks, table cells), or that the parser rewrites (NUL, CR).
static NEEDS_PARSER: [bool; 256] = {
    let mut t = [false; 256];
    let special = b"\\[]<>&|\r\0";
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] = true;
        i += 1;
    }
    t
};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Paragraph,
    /// List items and headings end with a period when they have no end punctuation.
    Item,
}

/// Renders `md` as `markdown::render_with` would (appending to `out`), or returns `None`
/// (with `out` unchanged) when `md` is not one simple block.
pub(crate) fn render(md: &str, out: &mut String) -> Option<bool> {
    let b = md.as_bytes();
    if b.iter().any(|&c| NEEDS_PARSER[c as usize]) {
        return None;
    }
    // Leading blank lines.
    let mut start = 0;
    loop {
        let end = memchr::memchr(b'\n', &b[start..]).map_or(b.len(), |p| start + p);
        if !b[start..end].iter().all(|&c| c == b' ' || c == b'\t') {
            break;
        }
        if end == b.len() {
            return Some(nothing(out)); // nothing but blanks renders to nothing
        }
        start = end + 1;
    }
    let indent = b[start..].iter().take_while(|&&c| c == b' ').count();
    if indent > 3 || b[start + indent] == b'\t' {
        return None;
    }
    let first = start + indent;
    let (kind, content, heading) = match block_start(&b[first..]) {
        Start::Text => (Kind::Paragraph, first, false),
        Start::Marker(n) => (Kind::Item, first + n, false),
        Start::Heading(n) => (Kind::Item, first + n, true),
        Start::Other => return None,
    };
    // The rest of the first line and the lines after it: text only, up to trailing blanks.
    let mut end = content;
    let mut line = content;
    let mut blank_seen = false;
    loop {
        let line_end = memchr::memchr(b'\n', &b[line..]).map_or(b.len(), |p| line + p);
        let text = &b[line..line_end];
        let lead = text
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count();
        if lead == text.len() {
            blank_seen = true;
        } else {
            if blank_seen || (heading && line > content) {
                return None;
            }
            // On the first line only the content after a marker is checked: a nested block
            // ("- # x", "- > x") starts there.
            let at = if line == content { 0 } else { lead };
            if (line == content && kind == Kind::Item && lead > 0)
                || block_start(&text[at..]) != Start::Text
            {
                return None;
            }
            end = line_end;
        }
        if line_end == b.len() {
            break;
        }
        line = line_end + 1;
    }
    let mut text = &md[content..end];
    if heading {
        if text.contains('#') {
            return None; // a closing sequence
        }
        text = text.trim_end_matches([' ', '\t']);
    }
    let base = out.len();
    if inline(text, out, base).is_none() {
        out.truncate(base);
        return None;
    }
    // The renderer's end of a line.
    while out.len() > base && out.ends_with([' ', ',']) {
        out.pop();
    }
    let line = &out[base..];
    if !line.chars().any(char::is_alphanumeric) {
        out.truncate(base);
        return Some(nothing(out));
    }
    if kind == Kind::Item && !crate::markdown::has_end_punct(line) {
        out.push('.');
        return Some(true);
    }
    Some(false)
}

/// The parser's renderer drops a line break left at the end of `out`.
fn nothing(out: &mut String) -> bool {
    if out.ends_with('\n') {
        out.pop();
    }
    false
}

#[derive(PartialEq)]
enum Start {
    /// Paragraph text.
    Text,
    /// A list item marker and the space after it, of this many bytes.
    Marker(usize),
    /// An ATX heading's opening sequence and the space after it.
    Heading(usize),
    /// Anything else (a thematic break, a fence, a quote, indented code, an empty item...).
    Other,
}

/// What a line starting with `l` (its indentation removed) begins. Conservative: `Text` only
/// when no block can start there, `Marker`/`Heading` only for the plain forms.
fn block_start(l: &[u8]) -> Start {
    let Some(&c) = l.first() else {
        return Start::Other;
    };
    let spaced = |n: usize| -> bool {
        l.get(n) == Some(&b' ') && l.get(n + 1).is_some_and(|&d| d != b' ' && d != b'\t')
    };
    // Made only of `ch`, spaces and tabs: a thematic break or setext underline maybe.
    let only = |ch: u8| l.iter().all(|&d| d == ch || d == b' ' || d == b'\t');
    match c {
        b'-' | b'*' | b'+' => {
            if spaced(1) {
                Start::Marker(2)
            } else if matches!(l.get(1), None | Some(b' ' | b'\t')) || only(c) {
                Start::Other
            } else {
                Start::Text
            }
        }
        b'_' | b'=' => {
            if only(c) {
                Start::Other
            } else {
                Start::Text
            }
        }
        b'#' => {
            let n = l.iter().take_while(|&&d| d == b'#').count();
            if n <= 6 && spaced(n) {
                Start::Heading(n + 1)
            } else if n <= 6 && matches!(l.get(n), None | Some(b' ' | b'\t')) {
                Start::Other
            } else {
                Start::Text
            }
        }
        b'`' | b'~' => {
            if l.iter().take_while(|&&d| d == c).count() >= 3 {
                Start::Other
            } else {
                Start::Text
            }
        }
        b'0'..=b'9' => {
            let n = l.iter().take_while(|d| d.is_ascii_digit()).count();
            match l.get(n) {
                Some(b'.' | b')') if n <= 9 && spaced(n + 1) => Start::Marker(n + 2),
                Some(b'.' | b')') if n <= 9 => match l.get(n + 1) {
                    None | Some(b' ' | b'\t') => Start::Other,
                    _ => Start::Text,
                },
                _ => Start::Text,
            }
        }
        b'>' | b' ' | b'\t' | b'\n' => Start::Other,
        _ => Start::Text,
    }
}

/// The inline content: text and code spans. `None` for a code span across a line.
fn inline(text: &str, out: &mut String, base: usize) -> Option<()> {
    let b = text.as_bytes();
    let mut from = 0; // start of the text not yet written
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'`', &b[i..]) {
        let p = i + p;
        let n = b[p..].iter().take_while(|&&c| c == b'`').count();
        // The closer: the next run of exactly `n` backticks.
        let mut q = p + n;
        let close = loop {
            match memchr::memchr(b'`', &b[q..]) {
                None => break None,
                Some(r) => {
                    let r = q + r;
                    let m = b[r..].iter().take_while(|&&c| c == b'`').count();
                    if m == n {
                        break Some(r);
                    }
                    q = r + m;
                }
            }
        };
        let Some(r) = close else {
            // Literal backticks; a shorter run after them may still open a span.
            i = p + n;
            continue;
        };
        let mut code = &text[p + n..r];
        if code.contains('\n') {
            return None;
        }
        if code.len() >= 2
            && code.starts_with(' ')
            && code.ends_with(' ')
            && !code.bytes().all(|c| c == b' ')
        {
            code = &code[1..code.len() - 1];
        }
        scrub::push_text(out, base, &text[from..p]);
        scrub::push_code_words(out, base, code);
        from = r + n;
        i = r + n;
    }
    scrub::push_text(out, base, &text[from..]);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(md: &str) -> (String, bool) {
        let mut out = String::from("x\n");
        let mut scratch = String::new();
        let added = crate::markdown::render_with_parser(md, &mut out, &mut scratch);
        (out, added)
    }

    fn simple(md: &str) -> Option<(String, bool)> {
        let mut out = String::from("x\n");
        render(md, &mut out).map(|a| (out, a))
    }

    #[test]
    fn simple_blocks() {
        for md in [
            "Hello **world**. It `works` here.\nNext line",
            "- **Root cause**: the cache isn't cleared",
            "2. Keep fat `LTO` for releases\n",
            "## Why the build is slow\n\n",
            "\n\nA `` a ` b `` c ` d",
            "` x `_y_ and x_y",
        ] {
            assert_eq!(simple(md), Some(parsed(md)), "{md:?}");
        }
        for md in [
            "> q",
            "- > q",
            "a\n---",
            "a\n\nb",
            "```\nx",
            "see [a](b)",
            "    code",
        ] {
            assert_eq!(simple(md), None, "{md:?}");
        }
    }

    /// Whatever the fast path takes, it renders exactly as the parser does.
    #[test]
    fn same_as_parser() {
        const PIECES: &[&str] = &[
            "*",
            "**",
            "***",
            "_",
            "__",
            "~",
            "~~",
            "`",
            "``",
            "```",
            "\n",
            "\n\n",
            " ",
            "  ",
            "   ",
            "\t",
            "# ",
            "#",
            "- ",
            "-",
            "--",
            "* ",
            "+ ",
            "1. ",
            "2) ",
            "12.",
            "=",
            "===",
            "a",
            "b",
            "Word",
            "x_y",
            "e.g.",
            "3.14",
            ".",
            ",",
            "!",
            "?",
            ":",
            "(",
            ")",
            "()",
            "\"",
            "'",
            "https://www.x.com/a_b?c=1",
            "www.y.org",
            "🚀",
            "✅",
            "é",
            "…",
            "•",
            "/",
            "//",
            "$",
            "%",
            "@",
            "{",
            "}",
            "^",
            "\u{a0}",
            "\u{200d}",
            "9",
            "0.",
        ];
        let mut rng = fastrand::Rng::with_seed(99);
        let mut taken = 0;
        let cases = if cfg!(debug_assertions) {
            100_000
        } else {
            2_000_000
        };
        for case in 0..cases {
            let n = rng.usize(1..24);
            let md: String = (0..n).map(|_| PIECES[rng.usize(..PIECES.len())]).collect();
            if let Some(got) = simple(&md) {
                taken += 1;
                assert_eq!(got, parsed(&md), "case {case}: {md:?}");
            }
        }
        assert!(taken > cases / 10, "only {taken} simple blocks");
    }
}
