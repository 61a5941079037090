//! The text stage: assistant Markdown to the sentences a voice reads, as early as each is
//! certain.

mod abbrev;
mod blocks;
pub mod markdown;
mod prefix;
mod scrub;
pub mod segment;
pub mod shaper;
mod simple;
