//! Ingest throughput on a realistic Claude Code transcript with partial messages.
//!
//! The input is session.partial.jsonl repeated (each copy with its own message ids) to about
//! 10 MB, fed in 64 KiB chunks as stdin would deliver it. Compares the simd-json and
//! serde_json backends. `cargo bench --bench ingest`; ns per line = time / lines (printed).
//! `STREAM_TTS_DATA=<dir>` reads the sample from another data directory.

use std::hint::black_box;

#[path = "common/transcript.rs"]
mod transcript;
use transcript::transcript;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use stream_tts_core::ingest::{JsonBackend, Parser, ParserOptions};

const CHUNK: usize = 64 * 1024;

fn run(data: &[u8], backend: JsonBackend, out: &mut Vec<stream_tts_core::ingest::Event>) -> usize {
    let mut p = Parser::with_backend(ParserOptions::default(), backend);
    let mut n = 0;
    for chunk in data.chunks(CHUNK) {
        out.clear();
        p.feed(chunk, out);
        n += out.len();
    }
    out.clear();
    p.finish(out);
    n + out.len()
}

fn bench(c: &mut Criterion) {
    let data = transcript();
    let lines = data.iter().filter(|&&b| b == b'\n').count();
    let mut out = Vec::new();
    let events = run(&data, JsonBackend::SimdJson, &mut out);
    assert_eq!(
        events,
        run(&data, JsonBackend::SerdeJson, &mut out),
        "backends disagree"
    );
    eprintln!(
        "ingest bench input: {} bytes, {lines} lines, {events} events",
        data.len()
    );

    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    for (name, backend) in [
        ("simd_json", JsonBackend::SimdJson),
        ("serde_json", JsonBackend::SerdeJson),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| run(black_box(&data), backend, &mut out))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
