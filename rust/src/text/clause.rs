//! Where a sentence may be cut into clauses: one rule for every stage that cuts.
//!
//! Two jobs share it. Speed: a voice starts speaking the first clause of a long sentence
//! while the rest is made, so the text stage's early fragment and Piper's clause-by-clause
//! synthesis cut at the pauses a speaker makes anyway (`, ; :`, dashes, brackets), never
//! before `min_words` words. Safety: a voice's text encoder attends over its whole input, so
//! its memory and time grow with the square of the input's length (Piper: 2 kB of run-on
//! prose took 1.5 GB, 20 kB took the machine); no piece is longer than `max_bytes`, however
//! the text is written (no punctuation, no spaces at all).

/// Words before a natural break for the clause to be cut there (text stage and Piper).
pub const MIN_WORDS: usize = 6;

/// The longest piece any engine is given, in bytes of UTF-8. Piper on prose without
/// punctuation, the whole CLI on a busy 2-core machine (benches/results/clause-length-*):
/// peak RSS 339 MB and first audio 0.6-0.8 s at 300 bytes, 620 MB and 3 s at 1 kB, 1.5 GB
/// and 16 s at 2 kB. 250 bytes is ~50 words, ~13 s of speech, and within XTTS's own limits
/// (250 characters of English, 82 of Chinese).
pub const MAX_BYTES: usize = 250;

/// Words that start a new clause when a long tail follows: cut before them only when a
/// piece must be shortened, never to speed up a sentence of ordinary length.
const CONJUNCTIONS: &[&str] = &[
    "and", "but", "or", "so", "because", "which", "while", "then", "when", "where", "that",
];

/// A natural break: the clause before it is `text[..end]` (its punctuation kept), the next
/// one starts at `next`. `strong` breaks are marks (punctuation, dashes, brackets), weak ones
/// a conjunction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Break {
    end: usize,
    next: usize,
    strong: bool,
}

/// Full-width punctuation that marks a pause with no space after it (Chinese, Japanese).
fn is_wide_pause(c: char) -> bool {
    matches!(c, '，' | '、' | '；' | '：' | '）')
}

/// Every natural break in `text`, in order; conjunctions only with `weak`.
fn breaks(text: &str, weak: bool) -> impl Iterator<Item = Break> + '_ {
    let mut chars = text.char_indices().peekable();
    let mut prev: Option<char> = None;
    std::iter::from_fn(move || {
        while let Some((i, c)) = chars.next() {
            let before = prev;
            prev = Some(c);
            let after_i = i + c.len_utf8();
            let next_c = chars.peek().map(|&(_, n)| n);
            let space_after = next_c.is_some_and(char::is_whitespace);
            let space_before = before.is_some_and(char::is_whitespace);
            let found = match c {
                ',' | ';' | ':' if space_after => Some((after_i, true)),
                ')' | ']' if space_after => Some((after_i, true)),
                // A dash between spaces, or an em dash between words.
                '-' | '–' | '—' if space_before && space_after => Some((after_i, true)),
                '—' if next_c.is_some_and(char::is_alphanumeric) => Some((after_i, true)),
                '(' | '[' if space_before => Some((i, true)),
                c if is_wide_pause(c) && next_c.is_some() => Some((after_i, true)),
                c if weak && c.is_whitespace() && !space_before && before.is_some() => {
                    let rest = text[after_i..].trim_start();
                    let word = rest.split(char::is_whitespace).next().unwrap_or("");
                    let tail = &rest[word.len()..];
                    let is_conj = CONJUNCTIONS.iter().any(|w| w.eq_ignore_ascii_case(word));
                    (is_conj && tail.starts_with(char::is_whitespace)).then_some((i, false))
                }
                _ => None,
            };
            if let Some((end, strong)) = found {
                let next = text.len() - text[end..].trim_start().len();
                let end = text[..end].trim_end().len();
                if end > 0 && next < text.len() {
                    return Some(Break { end, next, strong });
                }
            }
        }
        None
    })
}

/// Words of `s`: a lone dash is not one.
fn words(s: &str) -> usize {
    s.split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count()
}

/// End (exclusive) of the first clause of `text` that ends at `, ; :` (and a space) after
/// at least `min_words` words with more text after it: the text stage's early fragment. It
/// is cut from Markdown still arriving, so only at marks that cannot turn into Markdown
/// syntax (a bracket may still become a link, a dash a list item); called on every scan of
/// a pending first sentence, so it looks only at those bytes.
pub fn first_break(text: &str, min_words: usize) -> Option<usize> {
    let (mut counted, mut from) = (0, 0);
    for i in memchr::memchr3_iter(b',', b';', b':', text.as_bytes()) {
        let (end, rest) = (i + 1, &text[i + 1..]);
        if !rest.starts_with(char::is_whitespace) {
            continue;
        }
        counted += words(&text[from..end]);
        from = end;
        if counted >= min_words && !rest.trim_start().is_empty() {
            return Some(end);
        }
    }
    None
}

/// `text` cut into clauses: at strong natural breaks where both sides have at least
/// `min_words` words (0: no such cuts), and wherever a piece would be longer than
/// `max_bytes` (at the latest natural break that fits, else the last space, else inside a
/// word that has none, on a character boundary). Pieces are trimmed and never empty; joined
/// with spaces they hold every word of `text` in order.
pub fn clauses(text: &str, min_words: usize, max_bytes: usize) -> Vec<&str> {
    // A character is at most 4 bytes: a smaller limit could not always make progress.
    let max_bytes = max_bytes.max(4);
    let mut out = Vec::new();
    for piece in natural(text.trim(), min_words) {
        bounded(piece, max_bytes, &mut out);
    }
    out
}

/// Cuts at strong breaks, merging forward until a piece has `min_words` words.
fn natural(text: &str, min_words: usize) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    if min_words == 0 {
        return vec![text];
    }
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for b in breaks(text, false) {
        if b.end > start && words(&text[start..b.end]) >= min_words {
            spans.push((start, b.end));
            start = b.next;
        }
    }
    match spans.last_mut() {
        // A short last clause joins the one before it.
        Some(last) if words(&text[start..]) < min_words => last.1 = text.len(),
        _ => spans.push((start, text.len())),
    }
    spans.into_iter().map(|(a, b)| &text[a..b]).collect()
}

/// Appends `text` to `out` in pieces of at most `max_bytes`.
fn bounded<'a>(mut text: &'a str, max_bytes: usize, out: &mut Vec<&'a str>) {
    while text.len() > max_bytes {
        let cut = cut_point(text, max_bytes);
        let (head, rest) = (text[..cut.0].trim_end(), text[cut.1..].trim_start());
        out.push(head);
        text = rest;
    }
    if !text.is_empty() {
        out.push(text);
    }
}

/// Where to cut a `text` longer than `max_bytes`: (end of the head, start of the rest).
fn cut_point(text: &str, max_bytes: usize) -> (usize, usize) {
    // A break that leaves a head this short would make the next piece the long one again.
    let least = max_bytes / 3;
    let fits = |b: &Break| b.end >= least && b.end <= max_bytes;
    let mut strong = None;
    let mut weak = None;
    for b in breaks(text, true)
        .take_while(|b| b.end <= max_bytes)
        .filter(fits)
    {
        if b.strong {
            strong = Some(b);
        } else {
            weak = Some(b);
        }
    }
    if let Some(b) = strong.or(weak) {
        return (b.end, b.next);
    }
    let mut limit = max_bytes;
    while !text.is_char_boundary(limit) {
        limit -= 1;
    }
    // The last space that leaves a non-empty head, else a cut inside the word.
    let head = &text[..limit];
    match head.trim_start().rfind(char::is_whitespace) {
        Some(j) => {
            let j = j + (head.len() - head.trim_start().len());
            let width = head[j..].chars().next().map_or(1, char::len_utf8);
            (j, j + width)
        }
        None => (limit, limit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every piece bounded, trimmed and non-empty; no word lost, added or reordered.
    fn check(text: &str, min_words: usize, max_bytes: usize) -> Vec<&str> {
        let pieces = clauses(text, min_words, max_bytes);
        for p in &pieces {
            assert!(!p.is_empty(), "empty piece in {pieces:?}");
            assert_eq!(p.trim(), *p, "untrimmed piece {p:?}");
            assert!(
                p.len() <= max_bytes.max(4),
                "{} bytes > {max_bytes}: {p:?}",
                p.len()
            );
        }
        let squash = |s: &str| s.split_whitespace().collect::<String>();
        assert_eq!(
            squash(&pieces.concat()),
            squash(text),
            "characters lost or moved"
        );
        pieces
    }

    #[test]
    fn short_clauses_stay_whole() {
        let s = "Yes, it works, and that is fine.";
        assert_eq!(check(s, 6, MAX_BYTES), [s]);
        assert_eq!(check("", 6, MAX_BYTES), Vec::<&str>::new());
        assert_eq!(check("  \n ", 6, MAX_BYTES), Vec::<&str>::new());
    }

    #[test]
    fn cuts_at_punctuation_after_enough_words() {
        let s = "The release profile uses fat LTO with one unit, so the linker optimizes \
                 the whole program at once; that costs about forty seconds: every build.";
        assert_eq!(
            check(s, 6, MAX_BYTES),
            [
                "The release profile uses fat LTO with one unit,",
                "so the linker optimizes the whole program at once;",
                "that costs about forty seconds: every build."
            ]
        );
        // 0 words: only the length limit cuts.
        assert_eq!(check(s, 0, MAX_BYTES), [s]);
    }

    #[test]
    fn dashes_and_brackets_are_breaks() {
        let s = "The cache that nobody ever reads — the old one from March — keeps growing \
                 every single day (about a gigabyte each week) until the disk is full.";
        assert_eq!(
            check(s, 6, MAX_BYTES),
            [
                "The cache that nobody ever reads —",
                "the old one from March — keeps growing every single day",
                "(about a gigabyte each week) until the disk is full."
            ]
        );
        // Full-width pauses need no space after them.
        assert_eq!(
            check("一二三四五六，七八九十、十一", 1, MAX_BYTES),
            ["一二三四五六，", "七八九十、", "十一"]
        );
        // Hyphens inside words and colons inside times are not breaks.
        let t = "a well-known build at 10:30 and a second well-known build at 11:45 today";
        assert_eq!(check(t, 2, MAX_BYTES), [t]);
    }

    #[test]
    fn first_break_is_the_early_fragment() {
        let s = "The release profile uses fat LTO, so the linker works.";
        assert_eq!(first_break(s, 4), Some(s.find(',').unwrap() + 1));
        assert_eq!(first_break(s, 7), None);
        assert_eq!(first_break("Short one; then another one here", 2), Some(10));
        assert_eq!(first_break("No break at the end,", 1), None);
        // Brackets and dashes may still become Markdown syntax: not for the early fragment.
        assert_eq!(
            first_break("see the link [docs](url) or the - list here", 1),
            None
        );
    }

    #[test]
    fn long_run_on_is_cut_at_the_latest_break_that_fits() {
        let s = "we read the file and we fixed the test but the build still fails on the \
                 server because the cache keeps the old flags";
        let pieces = check(s, 6, 60);
        assert_eq!(
            pieces,
            [
                "we read the file and we fixed the test",
                "but the build still fails on the server",
                "because the cache keeps the old flags"
            ]
        );
        // A comma before the limit wins over a later conjunction.
        let t = "first we read every file in the tree, then we fixed the test and the build";
        assert_eq!(check(t, 20, 60)[0], "first we read every file in the tree,");
    }

    #[test]
    fn without_breaks_the_last_space_is_used() {
        let s = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi";
        let pieces = check(s, 6, 20);
        assert_eq!(pieces[0], "alpha beta gamma");
        let rejoined = pieces.join(" ");
        assert_eq!(rejoined, s);
    }

    #[test]
    fn a_word_without_spaces_is_cut_on_character_boundaries() {
        let blob = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo".repeat(600);
        let pieces = check(&blob, 6, MAX_BYTES);
        assert_eq!(pieces.len(), blob.len().div_ceil(MAX_BYTES));
        let wide = "é漢🎵".repeat(500);
        for max in [4, 5, 6, 7, 100, MAX_BYTES] {
            let pieces = check(&wide, 6, max);
            let full = &pieces[..pieces.len() - 1];
            assert!(full.iter().all(|p| p.len() + 4 > max.max(4)), "{max}");
        }
        assert_eq!(check("🎵", 6, 1), ["🎵"]);
    }

    #[test]
    fn pieces_rejoin_to_the_words_in_order() {
        let mut rng = fastrand::Rng::with_seed(7);
        let vocab = [
            "and",
            "but",
            "the",
            "word",
            "x",
            "naïve",
            "日本語",
            "—",
            "-",
            "(aside)",
            "end,",
            "so;",
            "a:",
            "🎵",
            "reallylongwordwithoutanyspaces",
            "or",
            "\n",
            "  ",
        ];
        for case in 0..3000 {
            let n = rng.usize(0..120);
            let text: String = (0..n)
                .map(|_| vocab[rng.usize(..vocab.len())])
                .collect::<Vec<_>>()
                .join(if case % 2 == 0 { " " } else { "  " });
            let min_words = rng.usize(0..8);
            let max = rng.usize(1..200);
            let pieces = check(&text, min_words, max);
            if vocab.iter().all(|w| w.len() <= max) {
                let got: Vec<&str> = pieces.iter().flat_map(|p| p.split_whitespace()).collect();
                let want: Vec<&str> = text.split_whitespace().collect();
                assert_eq!(got, want, "case {case}, max {max}");
            }
        }
    }

    #[test]
    fn twenty_kilobytes_of_prose_stay_bounded() {
        let s = "the worker thread keeps the old cache around ".repeat(450);
        let pieces = check(&s, MIN_WORDS, MAX_BYTES);
        assert!(pieces[..pieces.len() - 1]
            .iter()
            .all(|p| p.len() > MAX_BYTES - 10));
    }
}
