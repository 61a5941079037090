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

use super::blocks::{backtick_run, block_start, Start};
use super::scrub;
use super::segment;

/// Bytes that make a block something else than plain text wherever they are: a table cell
/// (a pipe splits cells even inside a code span), or a byte the parser rewrites (CR, NUL).
const NEEDS_PARSER: [u8; 3] = [b'|', b'\r', 0];

/// Bytes outside code spans that may start inline syntax we do not handle here: links,
/// autolinks and HTML, entities, escapes and hard breaks. Inside a code span they are
/// literal (a code span opened before them takes precedence).
static NOT_PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let special = b"\\[]<&";
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] = true;
        i += 1;
    }
    t
};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Paragraph,
    /// List items and headings end with a period when they have no end punctuation.
    Item,
    /// A table (`at` counts its rows, see [`table`]).
    Table,
}

/// What a streaming caller keeps between renders of one growing block, so that each render
/// writes only the text after the last checkpoint again.
///
/// A checkpoint is an ASCII whitespace byte of the block's text outside code spans, with
/// every backtick run before it paired into a code span before it. The writers decide
/// nothing across such a byte (a URL, a `--` run or a word around `_` ends at whitespace,
/// and their only other state is the end of the output), and code spans before it are
/// paired however the text goes on; so the rendering of the text is the rendering of the
/// part before the checkpoint followed, on the same output, by the rest.
#[derive(Clone, Default)]
pub(crate) struct Resume {
    /// Where the text starts in the Markdown and whether it is a paragraph, item or heading:
    /// the checkpoint holds only while these do.
    key: Option<(usize, Kind, bool)>,
    /// The checkpoint, in the block's text.
    at: usize,
    /// The rendering of the text before `at`, untrimmed, as if `out` were empty.
    out: String,
    /// In a table's `out`: where the last period we added is.
    added: Option<usize>,
}

impl Resume {
    /// Whether there is a checkpoint to resume from.
    pub(crate) fn is_set(&self) -> bool {
        self.at > 0
    }

    /// Forget the block (the caller's Markdown starts somewhere else now).
    pub(crate) fn clear(&mut self) {
        self.key = None;
        self.at = 0;
        self.out.clear();
        self.added = None;
    }
}

/// Renders `md` as `markdown::render_with` would (appending to `out`), or returns `None`
/// (with `out` unchanged) when `md` is not one simple block.
pub(crate) fn render(md: &str, out: &mut String) -> Option<bool> {
    render_resuming(md, out, None)
}

/// [`render`], resuming from `resume` when `md` is a longer text of the block it has seen
/// (each `md` given with one `resume` must start where the last one did, and agree with it
/// as far as both go).
pub(crate) fn render_resuming(
    md: &str,
    out: &mut String,
    resume: Option<&mut Resume>,
) -> Option<bool> {
    let b = md.as_bytes();
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
    if indent <= 3 && b[start + indent] == b'|' {
        return table(&md[start..], out, resume.map(|r| (r, start)));
    }
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
    // (After the lines: a text of several blocks, the speakable of a whole document, goes
    // to the parser at its first blank line without being read to the end.)
    if memchr::memchr3(NEEDS_PARSER[0], NEEDS_PARSER[1], NEEDS_PARSER[2], b).is_some() {
        return None;
    }
    let mut text = &md[content..end];
    if heading {
        if text.contains('#') {
            return None; // a closing sequence
        }
        text = text.trim_end_matches([' ', '\t']);
    }
    let base = out.len();
    let done = match resume {
        None => inline(text, 0, text.len(), out, base),
        Some(r) => {
            let key = Some((content, kind, heading));
            if r.key != key || r.at > text.len() {
                r.clear();
                r.key = key;
            }
            // Move the checkpoint as far as the text allows, then say the rest after it.
            let to = checkpoint(text, r.at);
            let done = inline(text, r.at, to, &mut r.out, 0);
            if done.is_some() {
                r.at = to;
            } else {
                r.out.clear();
                r.at = 0;
            }
            out.push_str(&r.out);
            done.and_then(|()| inline(text, r.at, text.len(), out, base))
        }
    };
    if done.is_none() {
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
    if kind == Kind::Item && !segment::ends_with_terminator(line, true) {
        out.push('.');
        return Some(true);
    }
    Some(false)
}

/// A GFM table whose lines all start with a pipe (so that none can start another block),
/// a header row, a delimiter row with as many cells, body rows, then only blank lines; no
/// backslash anywhere (an escaped pipe is no cell border, even in a code span). Each row is
/// a line of its cells' text joined with ", ", ending with a period, as the renderer does.
///
/// With a `Resume` (and where the table starts in the caller's Markdown), the rows whose
/// line is complete are rendered once: a row's rendering depends only on its text and the
/// number of columns, fixed by the delimiter row. (Each call still checks all the lines.)
fn table(md: &str, out: &mut String, resume: Option<(&mut Resume, usize)>) -> Option<bool> {
    let b = md.as_bytes();
    if memchr::memchr3(b'\\', b'\r', 0, b).is_some() {
        return None;
    }
    let mut rows: Vec<&str> = Vec::new();
    let mut blank_seen = false;
    let mut lone_pipe = false;
    for line in md.split('\n') {
        let t = line.trim_matches([' ', '\t']);
        if t.is_empty() {
            blank_seen = true;
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        // A line of one pipe ends the table (what follows is a paragraph): only the last
        // line may be one (it renders to nothing either way).
        if blank_seen || lone_pipe || indent > 3 || !t.starts_with('|') {
            return None;
        }
        lone_pipe = t == "|";
        rows.push(t);
    }
    let delimiter = rows.get(1)?;
    let columns = cells(delimiter).count();
    let is_delimiter = cells(delimiter).all(|c| {
        let c = c.strip_prefix(':').unwrap_or(c);
        let c = c.strip_suffix(':').unwrap_or(c);
        !c.is_empty() && c.bytes().all(|d| d == b'-')
    });
    // (A header row of pipes alone, or one that reads as a delimiter row, makes no table:
    // ask for a word in it.)
    let header_text = rows[0]
        .bytes()
        .any(|c| c.is_ascii_alphanumeric() || c >= 0x80);
    if !is_delimiter || !header_text || cells(rows[0]).count() != columns {
        return None;
    }
    let base = out.len();
    let mut added = None;
    let mut first = 0;
    if let Some((r, start)) = resume {
        // The last row's line is complete when what follows the last line break is blank.
        let last_done = md
            .rsplit('\n')
            .next()
            .is_some_and(|l| l.trim_matches([' ', '\t']).is_empty());
        let complete = rows.len() - usize::from(!last_done);
        let key = Some((start, Kind::Table, false));
        if r.key != key || r.at > complete {
            r.clear();
            r.key = key;
        }
        // (Not before the delimiter row is complete: it fixes the number of columns.)
        if r.at < complete && complete >= 2 {
            if rows_into(&rows[..complete], r.at, columns, &mut r.out, &mut r.added).is_none() {
                r.clear();
                return None;
            }
            r.at = complete;
        }
        out.push_str(&r.out);
        added = r.added.map(|p| base + p);
        first = r.at;
    }
    if rows_into(&rows, first, columns, out, &mut added).is_none() {
        out.truncate(base);
        return None;
    }
    if out.ends_with('\n') {
        out.pop();
    }
    Some(added.is_some_and(|p| p + 1 == out.len()))
}

/// The cells of a table row (its text trimmed).
fn cells(row: &str) -> impl Iterator<Item = &str> {
    let inner = &row[1..];
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    inner.split('|').map(|c| c.trim_matches([' ', '\t']))
}

/// Appends the lines of `rows[first..]` but the delimiter row (`rows[1]`), each ending with a
/// line break; `added` is set where a period is added. `None` for a cell with other syntax.
fn rows_into(
    rows: &[&str],
    first: usize,
    columns: usize,
    out: &mut String,
    added: &mut Option<usize>,
) -> Option<()> {
    for (k, row) in rows.iter().enumerate().skip(first) {
        if k == 1 {
            continue;
        }
        let line_start = out.len();
        let mut has_cell = false;
        for cell in cells(row).take(columns) {
            if has_cell && out.len() > line_start {
                out.push_str(", ");
            }
            inline(cell, 0, cell.len(), out, line_start)?;
            while out.len() > line_start && out.ends_with([' ', ',']) {
                out.pop();
            }
            has_cell = out.len() > line_start;
        }
        // The renderer's end of a row.
        while out.len() > line_start && out.ends_with([' ', ',']) {
            out.pop();
        }
        let line = &out[line_start..];
        if !line.chars().any(char::is_alphanumeric) {
            out.truncate(line_start);
            continue;
        }
        if !segment::ends_with_terminator(line, true) {
            *added = Some(out.len());
            out.push('.');
        }
        out.push('\n');
    }
    Some(())
}

/// The parser's renderer drops a line break left at the end of `out`.
fn nothing(out: &mut String) -> bool {
    if out.ends_with('\n') {
        out.pop();
    }
    false
}

/// The closer of a code span opened by `n` backticks ending at `from`: the next run of
/// exactly `n`.
fn closer(b: &[u8], mut from: usize, n: usize) -> Option<usize> {
    loop {
        let (r, m) = backtick_run(b, from)?;
        if m == n {
            return Some(r);
        }
        from = r + m;
    }
}

/// The last checkpoint (see [`Resume`]) in `text` at or after `from` (itself one, or 0).
fn checkpoint(text: &str, from: usize) -> usize {
    let b = text.as_bytes();
    let mut best = from;
    let mut seg = from; // start of the text segment being looked at
    loop {
        let (seg_end, next) = match backtick_run(b, seg) {
            Some((p, n)) => match closer(b, p + n, n) {
                Some(r) => (p, Some(r + n)),
                // An unpaired run: a later one may still pair it, so nothing after it.
                None => (p, None),
            },
            None => (b.len(), None),
        };
        if let Some(w) = memchr::memrchr3(b' ', b'\t', b'\n', &b[seg..seg_end]) {
            best = seg + w;
        }
        match next {
            Some(n) => seg = n,
            None => return best,
        }
    }
}

/// The inline content of `text[from..to]` (`from` a checkpoint or 0, `to` a checkpoint or
/// the end): text and code spans. `None` for a code span across a line or other syntax.
fn inline(text: &str, from: usize, to: usize, out: &mut String, base: usize) -> Option<()> {
    let b = &text.as_bytes()[..to];
    let mut from = from; // start of the text not yet written
    let mut i = from;
    while let Some((p, n)) = backtick_run(b, i) {
        let Some(r) = closer(b, p + n, n) else {
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
        push_plain_text(out, base, &text[from..p])?;
        scrub::push_code_words(out, base, code);
        from = r + n;
        i = r + n;
    }
    push_plain_text(out, base, &text[from..to])
}

/// Text outside code spans, `None` if it has other inline syntax.
fn push_plain_text(out: &mut String, base: usize, text: &str) -> Option<()> {
    // (Past a few bytes, two vector searches beat a look at each byte.)
    let b = text.as_bytes();
    let special = if b.len() < 16 {
        b.iter().any(|&c| NOT_PLAIN[usize::from(c)])
    } else {
        memchr::memchr3(b'\\', b'[', b']', b).is_some() || memchr::memchr2(b'<', b'&', b).is_some()
    };
    if special {
        return None;
    }
    scrub::push_text(out, base, text);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(md: &str) -> (String, bool) {
        let mut out = String::from("x\n");
        let mut scratch = String::new();
        let added = crate::text::markdown::render_with_parser(md, &mut out, &mut scratch);
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
            "[",
            "]",
            "&amp;",
            "&",
            "\\",
            "<b>",
            "<",
            ">",
            "`[x]`",
            "`a\\`",
            "`&amp;`",
            "`<b>`",
            "`|`",
            "[x]: /u\n",
            "<https://a.b>",
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

    /// A random table-like block: 1 to `max_lines - 1` lines of pipe-separated `cells`, each
    /// line indented by one of `indents` (short ones likelier), the second line mostly a
    /// delimiter row from `delimiters`; rows sometimes short, long, or missing a pipe.
    fn random_table(
        rng: &mut fastrand::Rng,
        cells: &[&str],
        max_lines: usize,
        indents: &[&str],
        delimiters: &[&str],
    ) -> String {
        let mut md = String::new();
        let columns = rng.usize(1..4);
        for line in 0..rng.usize(1..max_lines) {
            md.push_str(indents[rng.usize(..indents.len()).min(rng.usize(..indents.len()))]);
            let n = if line < 2 && rng.u8(..8) != 0 {
                columns
            } else {
                rng.usize(0..columns + 2)
            };
            for k in 0..n {
                if k > 0 || rng.u8(..8) != 0 {
                    md.push('|');
                }
                if line == 1 && rng.u8(..8) != 0 {
                    md.push_str(delimiters[rng.usize(..delimiters.len())]);
                } else {
                    md.push_str(cells[rng.usize(..cells.len())]);
                }
            }
            if rng.bool() {
                md.push('|');
            }
            md.push_str(["\n", "\n", "\n", "\n\n", " \n", ""][rng.usize(..6)]);
        }
        md
    }

    /// Tables the fast path takes render exactly as the parser renders them.
    #[test]
    fn tables_same_as_parser() {
        const CELLS: &[&str] = &[
            "a",
            "Word",
            " x ",
            "",
            "`c|d`",
            "`e`",
            "**b**",
            "1.",
            "x. Y",
            "é 🚀",
            "-",
            "--",
            "---",
            ":--",
            "--:",
            ":-:",
            " : ",
            "a, ",
            "[l](u)",
            "\\|",
            "`",
            "https://x.io/a",
            "&amp;",
            "<b>",
            "_i_",
            "3.14",
            "?",
        ];
        let mut rng = fastrand::Rng::with_seed(5);
        let mut taken = 0;
        let cases = if cfg!(debug_assertions) {
            50_000
        } else {
            500_000
        };
        for case in 0..cases {
            let md = random_table(
                &mut rng,
                CELLS,
                6,
                &["", " ", "   ", "    "],
                &[" --- ", "-", ":--:", "--:", " :- "],
            );
            if let Some(got) = simple(&md) {
                taken += 1;
                assert_eq!(got, parsed(&md), "case {case}: {md:?}");
            }
        }
        assert!(taken > cases / 25, "only {taken} simple tables");
    }

    /// Tables rendered prefix by prefix with one `Resume` render as each prefix afresh.
    #[test]
    fn resuming_tables_is_rendering_afresh() {
        const CELLS: &[&str] = &[
            "a",
            "Word",
            " x ",
            "",
            "`c|d`",
            "`e`",
            "**b**",
            "1.",
            "x. Y",
            "é 🚀",
            "-",
            "?",
            "a, ",
            "[l](u)",
            "`",
            "https://x.io/a",
            "---",
            ":-:",
        ];
        let mut rng = fastrand::Rng::with_seed(23);
        let cases = if cfg!(debug_assertions) {
            20_000
        } else {
            200_000
        };
        let mut resume = Resume::default();
        let mut resumed = 0;
        for case in 0..cases {
            let md = random_table(
                &mut rng,
                CELLS,
                7,
                &["", " ", "    "],
                &[" --- ", "-", ":--:", "--:"],
            );
            resume.clear();
            let mut cut = 0;
            while cut < md.len() {
                cut = if rng.u8(..8) == 0 {
                    cut.saturating_sub(rng.usize(..12))
                } else {
                    cut + rng.usize(1..8)
                }
                .min(md.len());
                while !md.is_char_boundary(cut) {
                    cut += 1;
                }
                let part = &md[..cut];
                let mut got = String::from("x\n");
                let r = render_resuming(part, &mut got, Some(&mut resume));
                resumed +=
                    usize::from(resume.key.is_some_and(|k| k.1 == Kind::Table) && resume.at > 0);
                let mut afresh = String::from("x\n");
                let fresh = render(part, &mut afresh).map(|a| (afresh, a));
                assert_eq!(
                    r.map(|a| (got, a)),
                    fresh,
                    "case {case}: {part:?} of {md:?}"
                );
            }
        }
        assert!(
            resumed > cases / 4,
            "only {resumed} renders resumed a table"
        );
    }

    /// Rendering the growing prefixes of a block with one `Resume` gives what rendering each
    /// prefix afresh gives (and the parser), also when a prefix is shorter than the last.
    #[test]
    fn resuming_is_rendering_afresh() {
        const PIECES: &[&str] = &[
            "*",
            "**",
            "_",
            "~~",
            "`",
            "``",
            "```",
            "\n",
            "\n\n",
            " ",
            "  ",
            "\t",
            "- ",
            "1. ",
            "## ",
            "a",
            "Word",
            "x_y",
            "e.g.",
            "3.14",
            ".",
            ",",
            "!",
            "(",
            ")",
            "\"",
            "https://www.x.com/a_b?c=1",
            "www.y.org",
            "🚀",
            "é",
            "--",
            "/",
            "[",
            "<b>",
            "-",
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        let cases = if cfg!(debug_assertions) {
            20_000
        } else {
            300_000
        };
        let mut resume = Resume::default();
        for case in 0..cases {
            let n = rng.usize(1..30);
            let md: String = (0..n).map(|_| PIECES[rng.usize(..PIECES.len())]).collect();
            resume.clear();
            let mut cut = 0;
            while cut < md.len() {
                cut = if rng.u8(..8) == 0 {
                    cut.saturating_sub(rng.usize(..8))
                } else {
                    cut + rng.usize(1..6)
                }
                .min(md.len());
                while !md.is_char_boundary(cut) {
                    cut += 1;
                }
                let part = &md[..cut];
                let mut got = String::new();
                let r = render_resuming(part, &mut got, Some(&mut resume));
                let mut afresh = String::new();
                let fresh = render(part, &mut afresh).map(|a| (afresh, a));
                assert_eq!(
                    r.map(|a| (got, a)),
                    fresh,
                    "case {case}: {part:?} of {md:?}"
                );
            }
        }
    }
}
