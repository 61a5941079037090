//! Ingest throughput on a realistic Claude Code transcript with partial messages.
//!
//! The input is session.partial.jsonl repeated (each copy with its own message ids) to about
//! 10 MB, fed in 64 KiB chunks as stdin would deliver it. Compares the simd-json and
//! serde_json backends. `cargo bench --bench ingest`; ns per line = time / lines (printed).
//! `STREAM_TTS_DATA=<dir>` reads the sample from another data directory.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use stream_tts_core::ingest::{JsonBackend, Parser, ParserOptions};

const TARGET_BYTES: usize = 10 * 1000 * 1000;
const CHUNK: usize = 64 * 1024;

fn transcript() -> Vec<u8> {
    // STREAM_TTS_DATA overrides <repo>/../shared/data (to run the built bench elsewhere).
    let data = std::env::var_os("STREAM_TTS_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
        PathBuf::from,
    );
    let path = data.join("claude_code_samples/session.partial.jsonl");
    let session = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "benchmark input {} is missing ({e}); see <repo>/../shared/data/README.md",
            path.display()
        )
    });
    let mut out = String::with_capacity(TARGET_BYTES + session.len());
    let mut copy = 0;
    while out.len() < TARGET_BYTES {
        // Distinct message and tool ids per copy, as in one long session.
        out.push_str(
            &session
                .replace("\"msg_0", &format!("\"msg_{copy:05}_"))
                .replace("\"toolu_0", &format!("\"toolu_{copy:05}_")),
        );
        copy += 1;
    }
    out.into_bytes()
}

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
