//! stream-tts core: everything between stdin bytes and the sound device that must be fast.
//!
//! A coding agent's output goes through these stages, in this order:
//!
//! 1. **Ingest** ([`ingest`]): bytes from stdin, split anywhere, to typed events (a piece of
//!    assistant Markdown, a block's or a message's end, a tool call). [`ingest::Parser`]
//!    frames lines; `ingest/json.rs` decodes each JSON line (simd-json or serde_json) and
//!    returns its value, which the stream-json state machine of `ingest/session.rs` reads
//!    through the `View` trait of `ingest/view.rs`.
//! 2. **Text** ([`text`]): each content block's Markdown to the sentences a voice reads, each
//!    as soon as its end is certain. [`Shaper`] runs the stage; inside it, in order:
//!    - `text/watch.rs`: the byte watcher that says when a sentence end may have become
//!      certain;
//!    - `text/blocks.rs`: the line-level block rules (fences, containers, headings, list
//!      items) that cut the text into chunks of complete blocks;
//!    - `text/prefix.rs`: what of an open chunk may still read differently as it grows;
//!    - `text/render_cache.rs`: renders the open chunk again and again at low cost;
//!    - [`text::markdown`]: Markdown to speakable text (pulldown-cmark), with the
//!      parser-free fast path of `text/simple.rs` and the text writer of `text/scrub.rs`
//!      (URLs, code words, HTML, emoji);
//!    - [`text::segment`]: speakable text to sentences (abbreviations in `text/abbrev.rs`);
//!    - [`text::clause`]: where a sentence may be cut into clauses (the early first
//!      fragment, Piper's clause-by-clause synthesis, and the length cap every engine's input
//!      keeps).
//! 3. **Joined** ([`pipeline`]): [`pipeline::TextPipeline`] runs stages 1 and 2 in one call
//!    per chunk of input, one shaper per open content block.
//! 4. **Audio** ([`audio`]): the speech engine's samples (from Python) to a lock-free ring,
//!    drained by the sound device's callback (or a WAV file, or nothing).
//!
//! Errors of every stage are one [`Error`]. The crate is plain Rust; the PyO3 bindings
//! (`py/`, one file per stage) live behind the `python` feature so `cargo test` and
//! `cargo bench` need no Python interpreter. `examples/sentences.rs` runs stages 1 to 3.

pub mod error;

pub mod ingest;
pub mod pipeline;
pub mod text;

pub mod audio;

#[cfg(feature = "python")]
mod py;

/// Where the unit tests find the conformance data (shared with the integration tests).
#[cfg(test)]
#[path = "../tests/common/data.rs"]
mod test_data;

pub use error::{Error, Result};
pub use text::markdown::speakable;
pub use text::segment::split_sentences;
pub use text::shaper::{Piece, Shaper, ShaperOptions};
