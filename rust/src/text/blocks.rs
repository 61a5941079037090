//! The line-level Markdown block rules the streaming side decides without a parser:
//! container prefixes, code fences, ATX headings, list items, and where a chunk of complete
//! blocks may end. Each rule has its home here; pulldown-cmark stays the judge of what a
//! whole chunk renders to, and the CommonMark and random-Markdown tests check that these
//! rules agree with it where they decide.

/// A code fence: `len` (3 or more) times `ch` (a backtick or a tilde).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Fence {
    pub ch: u8,
    pub len: usize,
}

impl Fence {
    /// The fence `content` (a line without its containers) opens. A backtick fence's info
    /// string has no backtick (else the line is a code span).
    #[inline]
    pub(crate) fn opened_by(content: &str) -> Option<Fence> {
        let b = content.as_bytes();
        let ch = *b.first()?;
        if ch != b'`' && ch != b'~' {
            return None;
        }
        let n = run_len(b, ch);
        if n < 3 || (ch == b'`' && content[n..].contains('`')) {
            return None;
        }
        Some(Fence { ch, len: n })
    }

    /// Whether `content` (a line without its containers) closes this fence: at least as
    /// many of its character, then only whitespace.
    #[inline]
    pub(crate) fn closed_by(self, content: &str) -> bool {
        let n = run_len(content.as_bytes(), self.ch);
        n >= self.len && content[n..].trim().is_empty()
    }
}

/// How many times `ch` starts `b`.
#[inline]
fn run_len(b: &[u8], ch: u8) -> usize {
    b.iter().take_while(|&&c| c == ch).count()
}

/// The next backtick run in `b[from..]`: (start, length). Code spans and backtick fences
/// are made of these.
#[inline]
pub(crate) fn backtick_run(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let p = from + memchr::memchr(b'`', &b[from..])?;
    Some((p, run_len(&b[p..], b'`')))
}

/// Strips indentation, quote markers and list markers before a possible fence; `top` is
/// false when there was a container or 4+ spaces of indentation.
#[inline]
pub(crate) fn strip_containers(line: &str) -> (&str, bool) {
    let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
    let mut top = indent <= 3 && !line.starts_with('\t');
    let mut s = line.trim_start();
    loop {
        if let Some(r) = s.strip_prefix('>') {
            s = r.trim_start();
            top = false;
            continue;
        }
        let b = s.as_bytes();
        let marker = match b.first() {
            Some(b'-' | b'*' | b'+') if matches!(b.get(1), Some(b' ' | b'\t')) => 1,
            Some(c) if c.is_ascii_digit() => {
                let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
                if matches!(b.get(n), Some(b'.' | b')')) && matches!(b.get(n + 1), Some(b' ')) {
                    n + 1
                } else {
                    0
                }
            }
            _ => 0,
        };
        if marker == 0 {
            return (s, top);
        }
        s = s[marker..].trim_start();
        top = false;
    }
}

/// The length of the opening sequence of an ATX heading starting `l`: one to six `#`
/// followed by a space, a tab or the end of the line.
#[inline]
fn heading_opener(l: &[u8]) -> Option<usize> {
    let n = run_len(l, b'#');
    ((1..=6).contains(&n) && matches!(l.get(n), None | Some(b' ' | b'\t'))).then_some(n)
}

/// Whether `text` (an open chunk) starts with a list item at column 0.
pub(crate) fn starts_with_item(text: &str) -> bool {
    let first = text.trim_start_matches('\n');
    let b = first.as_bytes();
    match b.first() {
        Some(b'-' | b'*' | b'+') => matches!(b.get(1), Some(b' ' | b'\t')),
        Some(c) if c.is_ascii_digit() => {
            let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
            matches!(b.get(n), Some(b'.' | b')'))
        }
        _ => false,
    }
}

/// Whether an open chunk of complete blocks ends before a line.
pub(crate) enum Cut {
    Yes,
    No,
    /// The line is too short yet to tell.
    NeedMore,
}

/// Whether the open chunk `chunk` (outside a fence, with text on a complete line) ends
/// before `line`, the line being received (`complete`: its line break has come). A new
/// block starts there when nothing later can change how the chunk renders: any column-0
/// line after a blank line, an ATX heading, a fence, or a list item that may interrupt
/// what is before it.
pub(crate) fn cut_before(chunk: &str, line: &str, complete: bool, after_blank: bool) -> Cut {
    let b = line.as_bytes();
    let more = |cond: bool| if cond { Cut::NeedMore } else { Cut::No };
    if after_blank {
        // After a blank line a column-0 line starts a new block; an indented one may
        // continue a list item or an indented code block.
        return match b.first() {
            None => more(!complete),
            Some(c) if c.is_ascii_whitespace() => more(!complete && line.trim_start().is_empty()),
            Some(_) => Cut::Yes,
        };
    }
    let Some(&first) = b.first() else {
        return more(!complete);
    };
    match first {
        b'#' => match heading_opener(b) {
            Some(n) if n == b.len() && !complete => Cut::NeedMore,
            Some(_) => Cut::Yes,
            None => Cut::No,
        },
        b'`' | b'~' => {
            let n = run_len(b, first);
            if n < 3 {
                more(n == b.len() && !complete)
            } else if !complete {
                Cut::NeedMore
            } else if Fence::opened_by(line).is_some() {
                Cut::Yes
            } else {
                Cut::No
            }
        }
        b'-' | b'*' | b'+' => match b.get(1) {
            None => more(!complete),
            Some(b' ' | b'\t') => {
                if !line[2..].trim().is_empty() {
                    Cut::Yes
                } else {
                    more(!complete)
                }
            }
            _ => Cut::No,
        },
        b'0'..=b'9' => {
            let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
            if n > 9 {
                return Cut::No;
            }
            match b.get(n) {
                None => more(!complete),
                Some(b'.' | b')') => match b.get(n + 1) {
                    None => more(!complete),
                    Some(b' ' | b'\t') => {
                        if line[n + 2..].trim().is_empty() {
                            more(!complete)
                        } else if &line[..n] == "1" || starts_with_item(chunk) {
                            Cut::Yes
                        } else {
                            // Only "1." may interrupt a paragraph; "2." there is text.
                            Cut::No
                        }
                    }
                    _ => Cut::No,
                },
                _ => Cut::No,
            }
        }
        _ => Cut::No,
    }
}

/// What a complete line does to the blocks around it.
pub(crate) enum LineEnd {
    /// It closes the open fence; `top`: it stands at the top level (no container, little
    /// indentation).
    ClosesFence { top: bool },
    /// It is inside the open fence.
    InFence,
    /// It opens a fence; `top` as above.
    OpensFence { fence: Fence, top: bool },
    /// An ATX heading at column 0: a whole block by itself.
    Heading,
    /// Anything else.
    Other,
}

/// What the complete `line` does, with the fence `open` open before it.
#[inline]
pub(crate) fn line_end(line: &str, open: Option<Fence>) -> LineEnd {
    let (content, top) = strip_containers(line);
    if let Some(f) = open {
        return if f.closed_by(content) {
            LineEnd::ClosesFence { top }
        } else {
            LineEnd::InFence
        };
    }
    if let Some(fence) = Fence::opened_by(content) {
        return LineEnd::OpensFence { fence, top };
    }
    if heading_opener(line.as_bytes()).is_some() {
        LineEnd::Heading
    } else {
        LineEnd::Other
    }
}

/// What a line starting with `l` (its indentation removed) begins, for the parser-free
/// renderer (`simple`).
#[derive(PartialEq)]
pub(crate) enum Start {
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
pub(crate) fn block_start(l: &[u8]) -> Start {
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
        b'#' => match heading_opener(l) {
            Some(n) if spaced(n) => Start::Heading(n + 1),
            Some(_) => Start::Other,
            None => Start::Text,
        },
        b'`' | b'~' => {
            if run_len(l, c) >= 3 {
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
        // A quote, HTML block or link reference definition.
        b'>' | b'<' | b'[' | b' ' | b'\t' | b'\n' => Start::Other,
        _ => Start::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(chunk: &str, line: &str, complete: bool, after_blank: bool) -> &'static str {
        match cut_before(chunk, line, complete, after_blank) {
            Cut::Yes => "yes",
            Cut::No => "no",
            Cut::NeedMore => "more",
        }
    }

    #[test]
    fn fences() {
        let f = Fence::opened_by("````rust").unwrap();
        assert_eq!(f, Fence { ch: b'`', len: 4 });
        assert!(Fence::opened_by("``` a`b").is_none(), "a code span");
        assert!(Fence::opened_by("~~~ a`b").is_some());
        assert!(!f.closed_by("```"));
        assert!(f.closed_by("`````  "));
        assert!(!f.closed_by("```` x"));
        assert_eq!(strip_containers("> - ```"), ("```", false));
        assert_eq!(strip_containers("   ```"), ("```", true));
        assert_eq!(strip_containers("    ```"), ("```", false));
    }

    #[test]
    fn cuts() {
        assert_eq!(cut("Text.\n", "# Head", true, false), "yes");
        assert_eq!(cut("Text.\n", "#", false, false), "more");
        assert_eq!(cut("Text.\n", "#######", true, false), "no");
        assert_eq!(cut("Text.\n", "``", false, false), "more");
        assert_eq!(cut("Text.\n", "```", false, false), "more");
        assert_eq!(cut("Text.\n", "``` a`", true, false), "no");
        assert_eq!(cut("Text.\n", "- item", true, false), "yes");
        assert_eq!(cut("Text.\n", "-x", true, false), "no");
        assert_eq!(cut("Text.\n", "1. one", true, false), "yes");
        assert_eq!(
            cut("Text.\n", "2. two", true, false),
            "no",
            "only 1. interrupts"
        );
        assert_eq!(cut("1. one\n", "2. two", true, false), "yes");
        assert_eq!(cut("Text.\n\n", "Next", false, true), "yes");
        assert_eq!(cut("Text.\n\n", "  more", false, true), "no");
        assert_eq!(cut("Text.\n\n", "  ", false, true), "more");
    }

    #[test]
    fn line_ends() {
        let open = Some(Fence { ch: b'~', len: 3 });
        assert!(matches!(
            line_end("~~~", open),
            LineEnd::ClosesFence { top: true }
        ));
        assert!(matches!(
            line_end("> ~~~", open),
            LineEnd::ClosesFence { top: false }
        ));
        assert!(matches!(line_end("```", open), LineEnd::InFence));
        assert!(matches!(
            line_end("```sh", None),
            LineEnd::OpensFence { top: true, .. }
        ));
        assert!(matches!(line_end("## Head", None), LineEnd::Heading));
        assert!(matches!(line_end("#Head", None), LineEnd::Other));
    }

    #[test]
    fn starts() {
        assert!(block_start(b"- item") == Start::Marker(2));
        assert!(block_start(b"12) item") == Start::Marker(4));
        assert!(block_start(b"### Head") == Start::Heading(4));
        assert!(block_start(b"###") == Start::Other);
        assert!(block_start(b"---") == Start::Other);
        assert!(block_start(b"-1 is less") == Start::Text);
        assert_eq!(backtick_run(b"a ``b`", 0), Some((2, 2)));
        assert_eq!(backtick_run(b"a ``b`", 4), Some((5, 1)));
        assert_eq!(backtick_run(b"ab", 0), None);
    }
}
