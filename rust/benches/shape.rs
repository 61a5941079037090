//! Shaping throughput: Markdown -> speakable text -> sentences, on ~1 MB of realistic
//! assistant answers (prose, code blocks, lists, links, tables, inline code, emoji), fed
//! whole and as the small deltas a streaming agent sends (10-40 bytes). Also the cost of
//! one small delta, as percentiles over every delta of the corpus.
//!
//!     cargo bench --bench shape

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use stream_tts_core::{speakable, split_sentences, Piece, Shaper, ShaperOptions};

const TEMPLATES: &[&str] = &[
    "## Why the build is slow\n\nThe release profile uses **fat LTO** with `codegen-units = 1`, so the linker optimizes the whole program at once. That costs about {N} seconds per build, e.g. on CI.\n\nYou can:\n\n1. Switch to `lto = \"thin\"` for day-to-day builds.\n2. Keep fat LTO for releases only.\n3. Cache `target/` between runs.\n\n```toml\n[profile.dev-release]\ninherits = \"release\"\nlto = \"thin\"\n```\n\nSee [the Cargo book](https://doc.rust-lang.org/cargo/reference/profiles.html) for details. Want me to make the change?\n",
    "I'll check the tests first.\n\nThe failure is in `parser::tests::{W}` (see src/{W}.rs, line {N}). It expects v2.{N}.0 but gets 3.14, i.e. the old value. Dr. Smith's fix from the U.S. team landed in PR #{N} 👍.\n\n- **Root cause**: the cache isn't cleared between runs\n- *Fix*: call `cache.clear()` before parsing\n  - the nested detail, with a comma, matters here\n- Done ✅\n\n> Note: this only affects release builds... The debug build is fine.\n\n| File | Change | Lines |\n|------|--------|------:|\n| `src/cache.rs` | clear on reload | {N} |\n| `src/{W}.rs` | pass the flag | 12 |\n| `tests/{W}.rs` | new regression test | 40 |\n\nMore at https://www.github.com/example/{W}/issues/{N} or <https://docs.rs/pulldown-cmark>.\n",
    "Here is what I found after reading `{W}.py` and the logs, step by step, so you can follow along:\n\n1. The worker starts, reads the config from `~/.config/{W}/config.toml`, and opens {N} connections.\n\n   ```python\n   pool = Pool(size={N}, timeout=3.5)\n   for job in queue:\n       pool.submit(run, job)\n   ```\n\n2. Under load the pool is exhausted. Requests wait, then time out after 3.5 s. That's the spike you see at 14:02 in the dashboard.\n3. The retry loop makes it worse: every timeout re-queues the job with no backoff!\n\n### What I'd change\n\nAdd exponential backoff (base 200 ms, cap 10 s) and raise the pool size to {N}. I can open a PR for that, or we can pair on it. Which do you prefer?\n",
    "Sure. The function works, but there are three problems:\n\n* It allocates a new `Vec` on every call; reuse a buffer instead.\n* It panics on empty input (`items[0]`). Return `None` instead.\n* The name `do_stuff_{W}` says nothing. Something like `merge_sorted_runs` would.\n\nHere's the fixed version:\n\n```rust\npub fn merge_sorted_runs(runs: &[Vec<u32>], out: &mut Vec<u32>) -> Option<u32> {\n    out.clear();\n    for run in runs {\n        out.extend_from_slice(run);\n    }\n    out.sort_unstable();\n    out.first().copied()\n}\n```\n\nWith this, the benchmark goes from {N} µs to 41 µs per call (about 3x faster). I ran `cargo test` and all {N} tests pass. Let me know if you want the same treatment for `split_{W}` too.\n",
    "Good question! Short answer: yes, but only on Linux 5.{N} and newer.\n\nLonger answer: `io_uring` lets you submit reads without a syscall per request, which is why the throughput doubled in your test (from 1.2 GB/s to 2.5 GB/s). On older kernels the crate falls back to `epoll`, and that path is about {N}% slower. Mr. Axboe's notes at https://kernel.dk/io_uring.pdf explain the design well; section 4.2 covers the submission queue.\n\nIf you need macOS support too, keep the `tokio` backend as the default and enable `io_uring` behind a feature flag:\n\n```toml\n[features]\nuring = [\"dep:tokio-uring\"]\n```\n\nThen build with `cargo build --features uring` on the Linux boxes. 🚀\n",
];

const WORDS: &[&str] = &[
    "cache", "parser", "worker", "router", "session", "index", "queue",
];

/// ~`target` bytes of answers, each a separate block.
fn corpus(target: usize) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(42);
    let mut out = Vec::new();
    let mut total = 0;
    while total < target {
        let t = TEMPLATES[rng.usize(..TEMPLATES.len())];
        let mut s = String::with_capacity(t.len() + 32);
        let mut rest = t;
        while let Some(p) = rest.find('{') {
            s.push_str(&rest[..p]);
            match &rest[p..p + 3] {
                "{N}" => s.push_str(&rng.u32(2..900).to_string()),
                _ => s.push_str(WORDS[rng.usize(..WORDS.len())]),
            }
            rest = &rest[p + 3..];
        }
        s.push_str(rest);
        total += s.len();
        out.push(s);
    }
    out
}

/// Splits each answer into deltas of 10-40 bytes (at char boundaries).
fn deltas(answers: &[String]) -> Vec<Vec<(usize, usize)>> {
    let mut rng = fastrand::Rng::with_seed(7);
    answers
        .iter()
        .map(|a| {
            let mut v = Vec::new();
            let mut i = 0;
            while i < a.len() {
                let mut j = (i + rng.usize(10..=40)).min(a.len());
                while !a.is_char_boundary(j) {
                    j += 1;
                }
                v.push((i, j));
                i = j;
            }
            v
        })
        .collect()
}

fn shape_whole(answers: &[String], out: &mut Vec<Piece>) -> usize {
    let mut shaper = Shaper::new(ShaperOptions::default());
    let mut n = 0;
    for a in answers {
        shaper.feed(a, out);
        shaper.finish(out);
        n += out.len();
        out.clear();
    }
    n
}

fn shape_deltas(answers: &[String], cuts: &[Vec<(usize, usize)>], out: &mut Vec<Piece>) -> usize {
    let mut shaper = Shaper::new(ShaperOptions {
        early_fragment: true,
        min_fragment_words: 6,
    });
    let mut n = 0;
    for (a, cut) in answers.iter().zip(cuts) {
        for &(i, j) in cut {
            shaper.feed(&a[i..j], out);
        }
        shaper.finish(out);
        n += out.len();
        out.clear();
    }
    n
}

/// `speakable` of each answer on its own (one parser each, no segmenting).
fn speakable_each(answers: &[String]) -> usize {
    answers.iter().map(|a| speakable(a).len()).sum()
}

/// A hash of every piece of both paths, to compare two builds' outputs.
fn digest(answers: &[String], cuts: &[Vec<(usize, usize)>]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut out = Vec::new();
    let mut shaper = Shaper::new(ShaperOptions::default());
    for a in answers {
        shaper.feed(a, &mut out);
        shaper.finish(&mut out);
        out.push(Piece {
            text: String::new(),
            fragment: true,
        });
    }
    let mut shaper = Shaper::new(ShaperOptions {
        early_fragment: true,
        min_fragment_words: 6,
    });
    for (a, cut) in answers.iter().zip(cuts) {
        for &(i, j) in cut {
            shaper.feed(&a[i..j], &mut out);
        }
        shaper.finish(&mut out);
        out.push(Piece {
            text: String::new(),
            fragment: true,
        });
    }
    for p in &out {
        p.text.hash(&mut h);
        p.fragment.hash(&mut h);
    }
    h.finish()
}

/// Times every single `feed` of a small delta; prints percentiles.
fn per_delta_latency(answers: &[String], cuts: &[Vec<(usize, usize)>]) {
    let mut times: Vec<Duration> = Vec::new();
    let mut out = Vec::new();
    for _ in 0..3 {
        times.clear();
        let mut shaper = Shaper::new(ShaperOptions::default());
        for (a, cut) in answers.iter().zip(cuts) {
            for &(i, j) in cut {
                let t = Instant::now();
                shaper.feed(black_box(&a[i..j]), &mut out);
                times.push(t.elapsed());
                out.clear();
            }
            shaper.finish(&mut out);
            out.clear();
        }
    }
    times.sort_unstable();
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize].as_nanos();
    println!(
        "feed one delta (10-40 B), {} deltas: p50 {} ns, p90 {} ns, p99 {} ns, max {} ns",
        times.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );
}

fn main() {
    // `cargo test --all-targets` runs this without `--bench`: a quick smoke run only.
    let benching = std::env::args().any(|a| a == "--bench");
    let answers = corpus(if benching { 1 << 20 } else { 16 << 10 });
    let bytes: usize = answers.iter().map(String::len).sum();
    let cuts = deltas(&answers);
    let n_deltas: usize = cuts.iter().map(Vec::len).sum();
    let whole_doc = answers.concat();
    let spoken = speakable(&whole_doc);
    println!(
        "corpus: {} answers, {bytes} bytes, {n_deltas} deltas, {} speakable bytes, {} sentences",
        answers.len(),
        spoken.len(),
        split_sentences(&spoken).len()
    );
    // One pass of one path, for a deterministic profile:
    // SHAPE_ONCE=whole valgrind --tool=callgrind target/release/deps/shape-* --bench
    if let Ok(which) = std::env::var("SHAPE_ONCE") {
        let mut out = Vec::new();
        let n = match which.as_str() {
            "whole" => shape_whole(&answers, &mut out),
            "speakable" => speakable_each(&answers),
            _ => shape_deltas(&answers, &cuts, &mut out),
        };
        println!(
            "{which}: {n} pieces, digest {:016x}",
            digest(&answers, &cuts)
        );
        return;
    }
    per_delta_latency(&answers, &cuts);
    if !benching {
        return;
    }

    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(6))
        .configure_from_args();
    let mut g = c.benchmark_group("shape_1MB");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("speakable", |b| b.iter(|| speakable(black_box(&whole_doc))));
    let mut out = Vec::new();
    g.bench_function("shaper_whole", |b| {
        b.iter(|| shape_whole(black_box(&answers), &mut out))
    });
    g.bench_function("shaper_deltas", |b| {
        b.iter(|| shape_deltas(black_box(&answers), &cuts, &mut out))
    });
    g.finish();
    // Segmenting alone, on the speakable text (its own byte count).
    let mut g = c.benchmark_group("segment_speakable");
    g.throughput(Throughput::Bytes(spoken.len() as u64));
    g.bench_function("split_sentences", |b| {
        b.iter(|| split_sentences(black_box(&spoken)))
    });
    g.finish();
    let mut g = c.benchmark_group("feed_delta");
    g.throughput(Throughput::Elements(n_deltas as u64));
    g.bench_function("all_deltas_of_1MB", |b| {
        b.iter(|| shape_deltas(black_box(&answers), &cuts, &mut out))
    });
    g.finish();
    c.final_summary();
}
