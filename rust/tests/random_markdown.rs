//! Random Markdown-ish input (all the syntax an agent's stream can cut through): streaming
//! must equal the whole feed, nothing may panic, and no markup character may be spoken.

mod common;

use stream_tts_core::ShaperOptions;

const PIECES: &[&str] = &[
    "*",
    "**",
    "_",
    "`",
    "``",
    "```\n",
    "~~~\n",
    "\n",
    "\n\n",
    "# ",
    "## ",
    "- ",
    "* ",
    "1. ",
    "2) ",
    "3. ",
    "> ",
    "| ",
    " |",
    "|---|---|\n",
    "---\n",
    "===\n",
    "[a](b)",
    "[link text",
    "](https://x.com/p)",
    "<div>",
    "</div>",
    "<pre>",
    "</pre>",
    "<!-- c -->",
    "<b>",
    "Hello",
    "world",
    "The",
    "it",
    ". ",
    "! ",
    "? ",
    ".",
    "e.g. ",
    "Dr. ",
    "U.S. ",
    "3.14",
    "v2.1.0 ",
    "main.rs",
    "https://www.x.com/a?b=1",
    "www.y.org",
    "&amp;",
    "&#42;",
    "    ",
    "\t",
    "…",
    "• ",
    "🚀",
    "✅",
    ", ",
    "\"",
    "'",
    ")",
    "(",
    "\\",
    "a",
    "b c",
    "x_y",
    "~~",
    "  \n",
];

fn random_doc(rng: &mut fastrand::Rng) -> String {
    let n = rng.usize(1..40);
    (0..n).map(|_| PIECES[rng.usize(..PIECES.len())]).collect()
}

#[test]
fn random_markdown_streams_like_whole_and_speaks_no_markup() {
    let mut rng = fastrand::Rng::with_seed(2024);
    let opts = [
        ShaperOptions::default(),
        ShaperOptions {
            early_fragment: true,
            min_fragment_words: 2,
        },
    ];
    for case in 0..4000 {
        let md = random_doc(&mut rng);
        for o in &opts {
            let whole = common::shape(o, [md.as_str()]);
            let chars = common::shape(o, common::char_split(&md));
            assert_eq!(chars, whole, "case {case}: char split differs\n{md:?}");
            let split = common::random_split(&md, case, 9);
            let got = common::shape(o, split.iter().copied());
            assert_eq!(got, whole, "case {case}: split {split:?} differs");
            for p in &whole {
                let bad = p.text.chars().find(|c| "*`|#[]<>\\~{}_^".contains(*c));
                assert!(
                    bad.is_none(),
                    "case {case}: {bad:?} spoken in {:?}\n{md:?}",
                    p.text
                );
                assert!(!p.text.contains("//") && !p.text.trim().is_empty());
            }
        }
    }
}
