//! The whole text stage (ingest + Markdown + segmentation) as the CLI drives it.
//!
//! - `text_stage/transcript`: MB/s over the 10 MB partial-message transcript, fed line by line
//!   (each stdin read is usually one line when the agent streams).
//! - `text_stage/one_line`: the added latency of one input line, most of them text deltas,
//!   fed to a warm pipeline that has seen everything before it (criterion's time per iteration
//!   is the time per line). The percentiles over delta lines alone are printed first.
//!
//! `cargo bench --bench pipeline`

#[path = "common/transcript.rs"]
mod transcript;

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use stream_tts_core::ingest::ParserOptions;
use stream_tts_core::pipeline::{Sentence, TextPipeline};
use stream_tts_core::ShaperOptions;

fn pipeline() -> TextPipeline {
    TextPipeline::new(ParserOptions::default(), ShaperOptions::default())
}

fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split_inclusive(|&b| b == b'\n').collect()
}

fn run(lines: &[&[u8]], out: &mut Vec<Sentence>) -> usize {
    let mut p = pipeline();
    let mut n = 0;
    for l in lines {
        out.clear();
        p.feed(l, out);
        n += out.len();
    }
    out.clear();
    p.finish(out);
    n + out.len()
}

/// Median and p95 of feeding each text-delta line alone, timed one by one.
fn delta_percentiles(lines: &[&[u8]]) {
    let mut p = pipeline();
    let mut out = Vec::new();
    let mut ns: Vec<u64> = Vec::new();
    for l in lines {
        out.clear();
        let is_delta = memchr::memmem::find(l, b"\"text_delta\"").is_some();
        let t = Instant::now();
        p.feed(l, &mut out);
        let dt = t.elapsed().as_nanos() as u64;
        if is_delta {
            ns.push(dt);
        }
    }
    ns.sort_unstable();
    let q = |f: f64| ns[((ns.len() - 1) as f64 * f) as usize];
    eprintln!(
        "text stage, one text_delta line: n={} median={} ns p95={} ns p99={} ns max={} ns",
        ns.len(),
        q(0.5),
        q(0.95),
        q(0.99),
        ns[ns.len() - 1]
    );
}

fn bench(c: &mut Criterion) {
    let data = transcript::transcript();
    let lines = lines(&data);
    let mut out = Vec::new();
    let sentences = run(&lines, &mut out);
    eprintln!(
        "text stage input: {} bytes, {} lines, {sentences} sentences",
        data.len(),
        lines.len()
    );
    delta_percentiles(&lines);

    let mut g = c.benchmark_group("text_stage");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("transcript", |b| {
        b.iter(|| run(black_box(&lines), &mut out))
    });
    g.throughput(Throughput::Elements(1));
    let mut p = pipeline();
    let mut i = 0;
    g.bench_function("one_line", |b| {
        b.iter(|| {
            if i == lines.len() {
                p = pipeline();
                i = 0;
            }
            out.clear();
            p.feed(black_box(lines[i]), &mut out);
            i += 1;
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
