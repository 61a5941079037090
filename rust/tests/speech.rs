//! What a listener hears for the Markdown an agent writes: tables row by row, URLs as hosts,
//! no emoji, headings and list items as sentences, the early first clause.

mod common;

use stream_tts_core::{speakable, split_sentences, Piece, ShaperOptions};

fn sentences(md: &str) -> Vec<String> {
    common::shape(&ShaperOptions::default(), common::random_split(md, 3, 12))
        .into_iter()
        .map(|p| p.text)
        .collect()
}

#[test]
fn tables_are_read_row_by_row() {
    let md =
        "| Setting | Value | Note |\n|:--|--:|---|\n| `lto` | thin | fast |\n| opt-level | 3 | |\n";
    assert_eq!(
        sentences(md),
        ["Setting, Value, Note.", "lto, thin, fast.", "opt-level, 3."]
    );
}

#[test]
fn urls_speak_their_host() {
    let md = "Docs: https://www.rust-lang.org/learn?x=1. Also <http://crates.io/crates/rtrb> and [this](https://example.com).";
    let said = speakable(md);
    assert_eq!(said, "Docs: rust-lang.org. Also crates.io and this.");
    for noise in ["http", "://", "www.", "//"] {
        assert!(!said.contains(noise), "{said}");
    }
}

#[test]
fn emoji_and_decorations_are_dropped() {
    let said = speakable("🚀 Shipped ✅ — all green 🎉👍🏽!\n\n───\n\n→ next ★ step • done");
    assert_eq!(said, "Shipped — all green!\nnext step done");
}

#[test]
fn headings_and_items_end_as_sentences() {
    let md = "# Plan\n- first thing\n- second thing?\n  1. nested one\n\nDone";
    assert_eq!(
        sentences(md),
        [
            "Plan.",
            "first thing.",
            "second thing?",
            "nested one.",
            "Done"
        ]
    );
}

#[test]
fn inline_code_is_spoken_as_words() {
    assert_eq!(
        speakable("Run `cargo build --release` then open `src/main.rs` and `self.items[0]`."),
        "Run cargo build release then open src main.rs and self.items 0."
    );
}

#[test]
fn markup_never_survives() {
    let said = speakable(
        "**bold** __b__ *i* _i_ ~~s~~ `c` [l](u) ![img](x.png) <b>h</b> # not heading\\\n> q\n\n---\n\nC# and 5 * 3 | x // y",
    );
    for bad in ['*', '_', '~', '`', '[', ']', '<', '>', '#', '|', '\\'] {
        assert!(!said.contains(bad), "{bad:?} in {said:?}");
    }
    assert!(!said.contains("//"));
}

#[test]
fn early_fragment_cuts_long_first_sentence_at_a_comma() {
    let opts = ShaperOptions {
        early_fragment: true,
        min_fragment_words: 6,
    };
    let md = "The release profile uses fat LTO with one codegen unit, so the linker optimizes the whole program at once. Later, a second sentence, with commas.";
    let mut shaper = stream_tts_core::Shaper::new(opts.clone());
    let mut out = Vec::new();
    // The fragment is out as soon as the comma is followed by a whole next word.
    let cut = md.find(", so").unwrap() + 5;
    shaper.feed(&md[..cut - 1], &mut out);
    assert!(out.is_empty());
    shaper.feed(&md[cut - 1..cut], &mut out);
    assert_eq!(
        out,
        [Piece {
            text: "The release profile uses fat LTO with one codegen unit,".into(),
            fragment: true
        }]
    );
    shaper.feed(&md[cut..], &mut out);
    shaper.finish(&mut out);
    let texts: Vec<(&str, bool)> = out.iter().map(|p| (p.text.as_str(), p.fragment)).collect();
    assert_eq!(
        texts,
        [
            (
                "The release profile uses fat LTO with one codegen unit,",
                true
            ),
            ("so the linker optimizes the whole program at once.", false),
            ("Later, a second sentence, with commas.", false),
        ]
    );
    // Short first clauses are not cut.
    let pieces = common::shape(&opts, ["Yes, that works. Fine."]);
    assert!(pieces.iter().all(|p| !p.fragment));
    // Off by default.
    let pieces = common::shape(&ShaperOptions::default(), [md]);
    assert!(pieces.iter().all(|p| !p.fragment));
}

#[test]
fn split_sentences_plain_text() {
    assert_eq!(
        split_sentences("Version 3.14 of main.rs shipped... Then e.g. tests ran. Done"),
        [
            "Version 3.14 of main.rs shipped... Then e.g. tests ran.",
            "Done"
        ]
    );
}
