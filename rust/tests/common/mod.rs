//! Shared helpers for the data-driven tests: the test data lives in `../shared/data` next to
//! the repository root and is never copied into the repository.
#![allow(dead_code)]

use std::path::PathBuf;

use stream_tts_core::{Piece, Shaper, ShaperOptions};

pub fn data_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel)
}

/// Reads a test data file; a missing file fails the test with a clear message.
pub fn read_data(rel: &str) -> String {
    let path = data_path(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "test data {} is missing ({e}); it must be in ../shared/data next to the repository root",
            path.display()
        )
    })
}

pub fn read_json(rel: &str) -> serde_json::Value {
    serde_json::from_str(&read_data(rel))
        .unwrap_or_else(|e| panic!("test data {rel} is not valid JSON: {e}"))
}

/// Feeds `chunks` one by one, then finishes the block.
pub fn shape<'a>(opts: &ShaperOptions, chunks: impl IntoIterator<Item = &'a str>) -> Vec<Piece> {
    let mut shaper = Shaper::new(opts.clone());
    let mut out = Vec::new();
    for c in chunks {
        shaper.feed(c, &mut out);
    }
    shaper.finish(&mut out);
    out
}

/// Splits `text` at char boundaries into pieces of 1..=max bytes, seeded.
pub fn random_split(text: &str, seed: u64, max: usize) -> Vec<&str> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut parts = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let mut j = (i + rng.usize(1..=max)).min(text.len());
        while !text.is_char_boundary(j) {
            j += 1;
        }
        parts.push(&text[i..j]);
        i = j;
    }
    parts
}

/// Every char on its own.
pub fn char_split(text: &str) -> Vec<&str> {
    text.char_indices()
        .map(|(i, c)| &text[i..i + c.len_utf8()])
        .collect()
}

/// Lower-cased runs of alphanumeric characters.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}
