//! What in a Markdown prefix may still read differently once more text arrives: a backtick
//! run that may open a code span, a line with a pipe that may become a table header, an
//! entity or tag still being typed. A provisional rendering stops before them.

use super::blocks::{backtick_run, strip_containers, Fence};

/// How much of `src` renders the same however the text continues (as far as these checks
/// go), each limit re-checked on what the others leave (a closing backtick may be cut off).
pub(crate) fn stable_len(src: &str) -> usize {
    let mut len = src.len();
    loop {
        let part = &src[..len];
        let safe = open_code_span(part)
            .min(table_barrier(part))
            .min(open_tail(part));
        if safe == len {
            return len;
        }
        len = safe;
    }
}

/// Where the first backtick run that no later run of the same length on its line closes
/// starts (the length of `src` if none): as the text grows it may open a code span. A run
/// at the end of `src` may still grow, so it closes nothing yet; fenced code is skipped.
pub(crate) fn open_code_span(src: &str) -> usize {
    let b = src.as_bytes();
    let mut fence: Option<Fence> = None;
    let mut start = 0;
    while start < b.len() {
        let end = memchr::memchr(b'\n', &b[start..]).map_or(b.len(), |p| start + p);
        let (content, _) = strip_containers(&src[start..end]);
        match fence {
            // Fenced code: its backticks open nothing.
            Some(f) => {
                if f.closed_by(content) {
                    fence = None;
                }
            }
            None => match Fence::opened_by(content) {
                Some(f) if end < b.len() => fence = Some(f),
                _ => {
                    if let Some(p) = unmatched_run(b, start, end) {
                        return p;
                    }
                }
            },
        }
        start = end + 1;
    }
    src.len()
}

/// The first backtick run in `b[start..end]` (one line) with no run of the same length after
/// it on that line. Pairs are only trusted within a line: a span may cross lines of a
/// paragraph but never blocks, and which lines share a paragraph is not known here.
fn unmatched_run(b: &[u8], start: usize, end: usize) -> Option<usize> {
    let line = &b[..end];
    let run_at = |from: usize| backtick_run(line, from);
    let mut from = start;
    while let Some((mut p, mut n)) = run_at(from) {
        if p > start && b[p - 1] == b'\\' {
            // An escaped backtick is literal; the rest of the run may still open a span.
            p += 1;
            n -= 1;
            if n == 0 {
                from = p;
                continue;
            }
        }
        let mut q = p + n;
        loop {
            match run_at(q) {
                // A run at the very end of the text may still grow: not a match yet.
                Some((r, m)) if r + m == b.len() => return Some(p),
                Some((r, m)) if m == n => {
                    from = r + m;
                    break;
                }
                Some((r, m)) => q = r + m,
                None => return Some(p),
            }
        }
    }
    None
}

/// Where a possible table header starts among the last two lines of `src` (its length if
/// none): a line with a pipe is a paragraph until the next line proves to be a delimiter
/// row. Once the chunk has a delimiter row, its rows are table rows for good.
pub(crate) fn table_barrier(src: &str) -> usize {
    if memchr::memchr(b'|', src.as_bytes()).is_none() {
        return src.len();
    }
    let mut starts = vec![0];
    starts.extend(memchr::memchr_iter(b'\n', src.as_bytes()).map(|p| p + 1));
    let complete_lines = starts.len() - 1;
    let line = |k: usize| {
        let end = starts.get(k + 1).map_or(src.len(), |&e| e - 1);
        &src[starts[k]..end]
    };
    if (0..complete_lines).any(|k| is_delimiter_row(line(k))) {
        return src.len();
    }
    let last = starts.len() - 1;
    (last.saturating_sub(1)..=last)
        .find(|&k| line(k).contains('|'))
        .map_or(src.len(), |k| starts[k])
}

/// A GFM table delimiter row: cells of dashes with optional colons, separated by pipes.
fn is_delimiter_row(line: &str) -> bool {
    let t = line.trim();
    t.contains('-')
        && (t.contains('|') || t.contains(':'))
        && t.bytes()
            .all(|c| matches!(c, b'|' | b'-' | b':' | b' ' | b'\t'))
}

/// Where an entity or a tag still being typed at the end of `src` starts ("&#4", "<di"),
/// the length of `src` if none: both read differently once complete.
pub(crate) fn open_tail(src: &str) -> usize {
    let b = src.as_bytes();
    let mut cut = b.len();
    if let Some(amp) = memchr::memrchr(b'&', b) {
        let tail = &b[amp + 1..];
        if tail.len() <= 32 && tail.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'#') {
            cut = amp;
        }
    }
    if let Some(lt) = memchr::memrchr(b'<', b) {
        let starts_tag = matches!(b.get(lt + 1), None | Some(b'/' | b'!' | b'?'))
            || b.get(lt + 1).is_some_and(u8::is_ascii_alphabetic);
        if starts_tag && memchr::memchr(b'>', &b[lt..]).is_none() {
            cut = cut.min(lt);
        }
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_code_spans() {
        assert_eq!(open_code_span("a `b` c"), 7);
        assert_eq!(open_code_span("a `b c"), 2);
        assert_eq!(open_code_span("a ``b` c"), 2);
        assert_eq!(open_code_span("a \\`b c"), 7);
        assert_eq!(open_code_span("```\nx\n```\nok `"), 13);
        assert_eq!(open_code_span("```\nx ` y\n```\nok `a` b"), 22);
        // Not paired across lines (blocks): "a `b" then "> c `d`".
        assert_eq!(open_code_span("a `b\n> c `d`"), 2);
    }

    #[test]
    fn open_tails() {
        assert_eq!(open_tail("a &#4"), 2);
        assert_eq!(open_tail("a &amp; b"), 9);
        assert_eq!(open_tail("x <di"), 2);
        assert_eq!(open_tail("x <b> y"), 7);
        assert_eq!(open_tail("a < b"), 5);
    }

    #[test]
    fn table_barriers() {
        assert_eq!(table_barrier("Para. Next one\n| a | b |"), 15);
        assert_eq!(table_barrier("| a. B |\n|--"), 0);
        assert_eq!(table_barrier("| a | b |\n|---|---|\n| c. D |"), 28);
        assert_eq!(table_barrier("No pipes. Here"), 14);
    }

    #[test]
    fn stable_len_rechecks() {
        // The table barrier cuts off the closing backtick: the opener is unmatched then.
        assert_eq!(stable_len("a `b\nc\n| x`"), 2);
    }
}
