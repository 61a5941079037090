//! stream-tts core: everything between stdin bytes and the sound device that must be fast.
//!
//! The crate is plain Rust; the PyO3 bindings live in [`py`] behind the `python` feature so
//! `cargo test` and `cargo bench` need no Python interpreter.

pub mod clause;
pub mod error;

// Text side: stdin bytes -> typed events -> speakable sentences.
mod abbrev;
pub mod ingest;
pub mod markdown;
pub mod pipeline;
mod prefix;
mod scrub;
pub mod segment;
pub mod shaper;
mod simple;

// Audio side: numpy samples -> lock-free ring -> device callback.
pub mod audio;

#[cfg(feature = "python")]
mod py;

pub use error::{Error, Result};
pub use markdown::speakable;
pub use segment::split_sentences;
pub use shaper::{Piece, Shaper, ShaperOptions};
