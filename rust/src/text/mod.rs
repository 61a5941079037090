//! The text stage: a content block's Markdown, fed in deltas split anywhere, to the
//! sentences a voice reads, each as soon as its end is certain. [`shaper::Shaper`] runs it;
//! the modules, in the order a delta meets them:
//!
//! - `watch`: looks at the raw bytes for a possible sentence end (a terminator, whitespace,
//!   a whole next word), so nothing is rendered between two;
//! - `blocks`: the line-level block rules (code fences, containers, ATX headings, list
//!   items) that cut the Markdown into chunks of complete blocks;
//! - `prefix`: how much of the open chunk renders the same however it goes on;
//! - `render_cache`: renders the open chunk again and again, resuming where it can;
//! - [`markdown`]: Markdown to speakable text, one block a line (pulldown-cmark), with
//!   `simple`, the parser-free path for a plain paragraph, item, heading or table, and
//!   `scrub`, the writer of text (URLs, code words, HTML, emoji);
//! - [`segment`]: speakable text to sentences, also on a prefix (`abbrev`: abbreviations);
//! - [`clause`]: where a sentence may be cut into clauses, and the longest piece an engine
//!   is given.

mod abbrev;
mod blocks;
pub mod clause;
pub mod markdown;
mod prefix;
mod render_cache;
mod scrub;
pub mod segment;
pub mod shaper;
mod simple;
mod watch;
