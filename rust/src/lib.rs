//! stream-tts core: everything between stdin bytes and the sound device that must be fast.
//!
//! The crate is plain Rust; the PyO3 bindings live in [`py`] behind the `python` feature so
//! `cargo test` and `cargo bench` need no Python interpreter.

pub mod error;

// Text side: stdin bytes -> typed events -> speakable sentences.
pub mod ingest;
pub mod pipeline;
pub mod text;

// Audio side: numpy samples -> lock-free ring -> device callback.
pub mod audio;

#[cfg(feature = "python")]
mod py;

pub use error::{Error, Result};
pub use text::markdown::speakable;
pub use text::segment::split_sentences;
pub use text::shaper::{Piece, Shaper, ShaperOptions};
