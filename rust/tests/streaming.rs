//! Streaming equivalence: Markdown fed in deltas split anywhere (every char, random sizes)
//! gives exactly the pieces of feeding it whole, and sentences come out before the end.

mod common;

use stream_tts_core::{speakable, split_sentences, Piece, Shaper, ShaperOptions};

/// Realistic assistant answers: what an agent writes, with the Markdown it uses.
pub const DOCS: &[&str] = &[
    "## Why the build is slow\n\nThe release profile uses **fat LTO** with `codegen-units = 1`, so the linker optimizes the whole program at once. That costs about 40 seconds per build.\n\nYou can:\n\n1. Switch to `lto = \"thin\"` for day-to-day builds.\n2. Keep fat LTO for releases only.\n\n```toml\n[profile.dev-release]\ninherits = \"release\"\nlto = \"thin\"\n```\n\nSee [the Cargo book](https://doc.rust-lang.org/cargo/reference/profiles.html) for details. Want me to make the change?",
    "I'll check the tests first.\n\nThe failure is in `parser::tests::nested` (see src/parser.rs, line 42). It expects v2.1.0 but gets 3.14, i.e. the old value. Dr. Smith's fix from the U.S. team is in PR #1234 👍.\n\n- **Root cause**: the cache isn't cleared\n- *Fix*: call `cache.clear()` before parsing\n  - nested detail, with a comma\n- Done ✅\n\n> Note: this only affects release builds... The debug build is fine.\n\n| File | Change |\n|------|--------|\n| `src/cache.rs` | clear on reload |\n| `src/main.rs` | pass the flag |\n\nMore at https://www.github.com/example/repo/issues/7 or <https://docs.rs/pulldown-cmark>.",
    "Setext Title\n============\n\nFirst line of a paragraph\nthat wraps here. And continues! Does it?\n\n~~~python\ndef f():\n    return 1\n~~~\n\n    indented code is not spoken\n\n<details>\n<summary>More</summary>\n\nHidden *markdown* inside HTML.\n\n</details>\n\n3. starts at three\n4. next item\n\n* * *\n\nLast words, e.g. these ones... Really.",
    "Here is the plan, step by step, so you can follow along easily:\n\n1. Read the config.\n\n   It lives in `~/.config/app.toml`.\n\n2. Update it:\n\n   ```bash\n   app --set key=value\n   ```\n\n3. Restart.\n\n### Summary\nAll good. Let me know!",
];

fn opts_list() -> [ShaperOptions; 3] {
    [
        ShaperOptions::default(),
        ShaperOptions {
            early_fragment: true,
            min_fragment_words: 6,
        },
        ShaperOptions {
            early_fragment: true,
            min_fragment_words: 2,
        },
    ]
}

fn check_equivalent(name: &str, md: &str) {
    for opts in opts_list() {
        let whole = common::shape(&opts, [md]);
        let bytes = common::shape(&opts, common::char_split(md));
        assert_eq!(
            bytes, whole,
            "{name}: char-by-char differs from whole ({opts:?})\n{md:?}"
        );
        for seed in 0..4 {
            let split = common::random_split(md, seed, 40);
            let got = common::shape(&opts, split.iter().copied());
            assert_eq!(
                got, whole,
                "{name}: split {split:?} differs from whole ({opts:?})"
            );
        }
    }
}

#[test]
fn realistic_docs_stream_like_whole() {
    for (i, md) in DOCS.iter().enumerate() {
        check_equivalent(&format!("doc {i}"), md);
    }
    // Long enough for the shaper to compact its buffer on the way.
    let long = DOCS.join("\n\n").repeat(4);
    check_equivalent("all docs, four times", &long);
}

#[test]
fn commonmark_examples_stream_like_whole() {
    if !common::have_data() {
        return;
    }
    let spec = common::read_json("commonmark_spec_0.31.2.json");
    for ex in spec["examples"].as_array().expect("examples") {
        let md = ex["markdown"].as_str().expect("markdown");
        check_equivalent(&format!("example {}", ex["example"]), md);
    }
}

#[test]
fn whole_shaper_matches_speakable_then_split() {
    for md in DOCS {
        let pieces = common::shape(&ShaperOptions::default(), [*md]);
        let got: Vec<String> = pieces.into_iter().map(|p| p.text).collect();
        assert_eq!(got, split_sentences(&speakable(md)), "{md:?}");
    }
}

/// Feeds `md` in 8-byte deltas; returns, for each piece, how many bytes had been fed when
/// it came out.
fn arrival(md: &str) -> Vec<(String, usize)> {
    let mut shaper = Shaper::new(ShaperOptions::default());
    let mut out: Vec<Piece> = Vec::new();
    let mut seen = Vec::new();
    let parts = common::random_split(md, 1, 8);
    let mut fed = 0;
    for p in parts {
        fed += p.len();
        shaper.feed(p, &mut out);
        for piece in out.drain(..) {
            seen.push((piece.text, fed));
        }
    }
    shaper.finish(&mut out);
    seen.extend(out.drain(..).map(|p| (p.text, md.len())));
    seen
}

#[test]
fn sentences_come_out_as_soon_as_certain() {
    let md = DOCS[0];
    let seen = arrival(md);
    let first = &seen[0];
    assert_eq!(first.0, "Why the build is slow.");
    // The heading is out once its line ends, long before the message ends.
    assert!(first.1 < md.find("The release").unwrap() + 8, "{seen:?}");
    let costs = seen
        .iter()
        .find(|(t, _)| t.starts_with("That costs"))
        .unwrap();
    assert!(costs.1 < md.find("You can").unwrap() + 8, "{seen:?}");
    // Nothing from inside the code fence, and the sentence after it is still prompt.
    assert!(seen.iter().all(|(t, _)| !t.contains("inherits")));
    let see = seen
        .iter()
        .find(|(t, _)| t.starts_with("See the Cargo"))
        .unwrap();
    assert!(see.1 < md.find("Want me").unwrap() + 8, "{seen:?}");
}

#[test]
fn finish_starts_a_new_block_and_reset_drops() {
    let mut s = Shaper::new(ShaperOptions::default());
    let mut out = Vec::new();
    s.feed("```\ncode. Not said.\n", &mut out);
    s.finish(&mut out);
    s.feed("Said now. Yes", &mut out);
    s.finish(&mut out);
    s.feed("Dropped. Because it", &mut out);
    s.reset();
    s.feed("Fresh.", &mut out);
    s.finish(&mut out);
    let texts: Vec<&str> = out.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["Said now.", "Yes", "Dropped.", "Fresh."]);
}
