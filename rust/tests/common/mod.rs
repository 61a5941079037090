//! Shared helpers for the integration tests; `data` says where the conformance data lives.
#![allow(dead_code)]

mod data;

use std::path::PathBuf;

#[allow(unused_imports)] // not every test file uses both
pub use data::{data_dir, have_data};

use stream_tts_core::{Piece, Shaper, ShaperOptions};

pub fn data_path(rel: &str) -> PathBuf {
    data_dir().join(rel)
}

/// Reads a test data file; a missing file fails the test with a clear message (tests check
/// `have_data()` first, so this fails only when the folder is there without the file).
pub fn read_data(rel: &str) -> String {
    let path = data_path(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "test data {} is missing ({e}); the data folder is incomplete",
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
