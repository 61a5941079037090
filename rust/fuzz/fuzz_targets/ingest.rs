//! The ingest parser on arbitrary bytes: it must never panic, and feeding the input in
//! arbitrary chunks must give exactly the events of feeding it whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stream_tts_core::ingest::{InputFormat, JsonBackend, Parser, ParserOptions};

fuzz_target!(|data: &[u8]| {
    // Two bytes choose the options and the chunking; the rest is the input.
    let [a, b, input @ ..] = data else { return };
    let opts = ParserOptions {
        input: [
            InputFormat::Auto,
            InputFormat::StreamJson,
            InputFormat::Text,
        ][usize::from(a % 3)],
        speak_tools: a & 4 != 0,
        speak_subagents: a & 8 != 0,
        // Small limits so over-long and too-deep lines are reached often.
        max_line_bytes: if a & 16 != 0 { 64 } else { 1 << 20 },
        max_depth: if a & 32 != 0 { 4 } else { 128 },
    };
    let backend = if a & 64 != 0 {
        JsonBackend::SerdeJson
    } else {
        JsonBackend::SimdJson
    };

    let mut whole = Vec::new();
    let mut p = Parser::with_backend(opts.clone(), backend);
    p.feed(input, &mut whole);
    p.finish(&mut whole);
    let counters = p.counters();
    let _ = p.take_warnings();

    let step = usize::from(*b) + 1;
    let mut chunked = Vec::new();
    let mut q = Parser::with_backend(opts, backend);
    for chunk in input.chunks(step) {
        q.feed(chunk, &mut chunked);
    }
    q.finish(&mut chunked);
    assert_eq!(whole, chunked);
    assert_eq!(counters, q.counters());
});
