//! Claude Code stream-json on stdin, one sentence a line on stdout, as each becomes certain.
//!
//! What this demonstrates: the text stage through the crate's Rust API alone, no Python
//! and no audio. [`TextPipeline`] frames the input into lines, reads each line's JSON (or
//! plain text), keeps one shaper per content block, and hands back each sentence the moment
//! the text after it makes its end certain; reading stdin as it arrives, a sentence is
//! printed while the agent is still writing the next one.
//!
//! How to run (from `rust/`):
//!
//!     claude -p --output-format stream-json --include-partial-messages --verbose "Hi" \
//!         | cargo run --example sentences
//!     cargo run --example sentences < ../../shared/data/claude_code_samples/session.partial.jsonl
//!
//! With `--tools` the start of each tool call is printed too, as `[tool] <name>`.

use std::io::{self, BufWriter, Read, Write};

use stream_tts_core::ingest::ParserOptions;
use stream_tts_core::pipeline::{Sentence, SentenceKind, TextPipeline};
use stream_tts_core::ShaperOptions;

fn main() -> io::Result<()> {
    let parser = ParserOptions {
        speak_tools: std::env::args().any(|a| a == "--tools"),
        ..ParserOptions::default()
    };
    let mut pipeline = TextPipeline::new(parser, ShaperOptions::default());
    let mut stdin = io::stdin().lock();
    let mut stdout = BufWriter::new(io::stdout().lock());
    let mut chunk = vec![0; 64 * 1024];
    let mut sentences = Vec::new();
    let mut printed = false;
    loop {
        // `read` returns what the pipe holds now: a chunk may end anywhere, even inside a
        // character; the pipeline keeps the rest for the next one.
        let n = match stdin.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            pipeline.finish(&mut sentences);
        } else {
            pipeline.feed(&chunk[..n], &mut sentences);
        }
        for warning in pipeline.take_warnings() {
            eprintln!("sentences: {warning}");
        }
        print(&mut stdout, &mut sentences, &mut printed)?;
        if n == 0 {
            return Ok(());
        }
    }
}

/// Writes the sentences (a blank line between messages) and empties `sentences`.
fn print(
    out: &mut impl Write,
    sentences: &mut Vec<Sentence>,
    printed: &mut bool,
) -> io::Result<()> {
    for s in sentences.drain(..) {
        if s.first && *printed {
            writeln!(out)?;
        }
        *printed = true;
        match s.kind {
            SentenceKind::Text => writeln!(out, "{}", s.text)?,
            SentenceKind::Tool => writeln!(out, "[tool] {}", s.text)?,
        }
    }
    // Each sentence as soon as it is known, not when a buffer fills.
    out.flush()
}
