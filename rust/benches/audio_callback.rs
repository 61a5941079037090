//! The device callback's cost per period, and the producer's per push (no device).
//!
//!     cargo bench --bench audio_callback

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use stream_tts_core::audio::resample::Resample;
use stream_tts_core::audio::ring;

fn callback(c: &mut Criterion) {
    let mut g = c.benchmark_group("callback_fill");
    // A 10 ms period at 48 kHz, stereo: pop 480 frames, spread, convert.
    let frames = 480;
    let src = vec![0.25f32; frames];
    g.throughput(Throughput::Elements(frames as u64));
    g.bench_function(BenchmarkId::new("f32_stereo", frames), |b| {
        let (mut f, mut p, _starts) = ring::channel(frames * 4);
        let mut out = vec![0f32; frames * 2];
        b.iter(|| {
            f.write_some(&src);
            p.fill(black_box(&mut out), 2, 0.0);
        })
    });
    g.bench_function(BenchmarkId::new("i16_stereo", frames), |b| {
        let (mut f, mut p, _starts) = ring::channel(frames * 4);
        let mut out = vec![0i16; frames * 2];
        b.iter(|| {
            f.write_some(&src);
            p.fill(black_box(&mut out), 2, 0.0);
        })
    });
    g.bench_function(BenchmarkId::new("silence_f32_stereo", frames), |b| {
        let (_f, mut p, _starts) = ring::channel(frames * 4);
        let mut out = vec![0f32; frames * 2];
        b.iter(|| p.fill(black_box(&mut out), 2, 0.0))
    });
    g.finish();
}

fn resample(c: &mut Criterion) {
    let mut g = c.benchmark_group("resample_push");
    // One second of 22.05 kHz speech-rate audio to 48 kHz, in 1,000-sample pushes.
    let src: Vec<f32> = (0..22050).map(|i| (i as f32 * 0.01).sin() * 0.3).collect();
    g.throughput(Throughput::Elements(src.len() as u64));
    g.bench_function("22050_to_48000_1s", |b| {
        let mut r = Resample::new(22050, 48000).unwrap();
        let mut out = Vec::with_capacity(50_000);
        b.iter(|| {
            out.clear();
            for chunk in src.chunks(1000) {
                r.process(chunk, &mut out).unwrap();
            }
            r.finish(&mut out).unwrap();
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, callback, resample);
criterion_main!(benches);
