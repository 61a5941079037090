//! The lock-free path from the producer (Python's `push`) to the consumer (the device
//! callback, or the thread of a WAV/null sink).
//!
//! Three SPSC rings (rtrb) and a few atomics, nothing else:
//! - `samples`: mono f32 at the device rate (the callback spreads them to the channels);
//! - `marks`: (position, utterance id) pairs, written before the samples they point at;
//! - `started`: (utterance id, time) back from the consumer when a marked sample is taken.
//!
//! Positions count frames since the sink opened. The producer publishes `written`, the
//! consumer `read`; a flush is a position (`flush_to`) the consumer skips up to.
//!
//! [`Player::fill`] is the whole callback: no allocation, no lock, no syscall but the clock
//! read by its caller, so it is unit-tested here without a device.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use cpal::{FromSample, Sample};

/// Where an utterance starts (`id`), or where a drained stream ended (`None`), in frames
/// since the sink opened. A gap in playback that ends at a mark is idle silence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    pub pos: u64,
    pub id: Option<u64>,
}

/// The consumer's answer to a mark: when the utterance's first sample was taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Started {
    pub id: u64,
    pub at: f64,
}

/// State both sides read; each field has a single writer, named on it.
#[derive(Debug, Default)]
pub struct Shared {
    /// Frames committed to the ring (producer).
    pub written: AtomicU64,
    /// Frames taken from the ring, played or flushed (consumer).
    pub read: AtomicU64,
    /// Skip everything before this position (producer; `fetch_max`).
    pub flush_to: AtomicU64,
    /// Bumped on every flush so a blocked `push` gives up (producer side).
    pub flush_gen: AtomicU64,
    /// Times the ring ran dry in the middle of an utterance (consumer).
    pub underruns: AtomicU64,
    /// Real samples (frames) played, silence excluded (consumer).
    pub played: AtomicU64,
    /// Consumer invocations (consumer).
    pub callbacks: AtomicU64,
    /// Start times dropped because nobody read them back (consumer).
    pub marks_lost: AtomicU64,
    /// Errors of the device (episodes: a burst of repeated reports counts once) or of the
    /// writer thread.
    pub device_errors: AtomicU64,
    /// Every error report of the device, bursts included.
    pub device_error_reports: AtomicU64,
    /// Device-level under/overruns the backend reported (the callback came too late).
    pub xruns: AtomicU64,
    /// Device-reported delay from callback to playback, in nanoseconds (consumer).
    pub latency_ns: AtomicU64,
    /// The sink closed: waiting producers give up.
    pub closed: AtomicBool,
    /// The device kept failing without a pause (its server went away): the stream was
    /// stopped, and pushes fail instead of waiting for a callback that will not come.
    pub device_lost: AtomicBool,
    /// The first failed write of a file sink (disk full, ...): pushes fail with it from then
    /// on, instead of synthesising into a file that no longer grows (writer thread).
    pub write_error: OnceLock<(std::io::ErrorKind, String)>,
}

impl Shared {
    /// The writer's failure as an error for the producer, if it failed.
    pub fn write_failed(&self) -> Option<std::io::Error> {
        self.write_error
            .get()
            .map(|(kind, msg)| std::io::Error::new(*kind, msg.clone()))
    }

    pub fn queued(&self) -> u64 {
        self.written
            .load(Ordering::Acquire)
            .saturating_sub(self.read.load(Ordering::Acquire))
    }
}

/// Capacity of the marks rings: utterances queued at once.
const MARKS: usize = 256;

/// A new ring of `capacity` frames: its two ends, and the return ring of start times.
pub fn channel(capacity: usize) -> (Feeder, Player, StartsRx) {
    let (sp, sc) = rtrb::RingBuffer::new(capacity.max(1));
    let (mp, mc) = rtrb::RingBuffer::new(MARKS);
    let (tp, tc) = rtrb::RingBuffer::new(MARKS);
    let shared = Arc::new(Shared::default());
    (
        Feeder {
            samples: sp,
            marks: mp,
            shared: shared.clone(),
            pos: 0,
        },
        Player {
            samples: sc,
            marks: mc,
            started: tp,
            shared,
            pos: 0,
            in_audio: false,
            dry: false,
        },
        StartsRx(tc),
    )
}

/// The producer's end of the return ring: start times reported by the consumer.
pub struct StartsRx(rtrb::Consumer<Started>);

impl StartsRx {
    /// Start times reported since the last call.
    pub fn take(&mut self, mut sink: impl FnMut(Started)) {
        while let Ok(s) = self.0.pop() {
            sink(s);
        }
    }
}

/// Input sample types accepted by `push`.
pub trait InSample: Copy {
    fn to_f32(self) -> f32;
}

impl InSample for f32 {
    #[inline]
    fn to_f32(self) -> f32 {
        self
    }
}

impl InSample for i16 {
    #[inline]
    fn to_f32(self) -> f32 {
        f32::from(self) / 32768.0
    }
}

/// The producer end. Never blocks: the sink decides how to wait.
pub struct Feeder {
    samples: rtrb::Producer<f32>,
    marks: rtrb::Producer<Mark>,
    pub(crate) shared: Arc<Shared>,
    pos: u64,
}

impl Feeder {
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Frames written so far (the position of the next sample).
    pub fn position(&self) -> u64 {
        self.pos
    }

    pub fn capacity(&self) -> usize {
        self.samples.buffer().capacity()
    }

    /// Write as much of `src` as fits now, converted to f32; returns how many were written.
    pub fn write_some<T: InSample>(&mut self, src: &[T]) -> usize {
        let n = src.len().min(self.samples.slots());
        if n == 0 {
            return 0;
        }
        let Ok(mut chunk) = self.samples.write_chunk(n) else {
            return 0;
        };
        let (a, b) = chunk.as_mut_slices();
        for (d, s) in a.iter_mut().zip(src) {
            *d = s.to_f32();
        }
        for (d, s) in b.iter_mut().zip(&src[a.len()..]) {
            *d = s.to_f32();
        }
        chunk.commit_all();
        self.pos += n as u64;
        // SeqCst pairs with `flush`: see `Sink::write_all`.
        self.shared.written.store(self.pos, Ordering::SeqCst);
        n
    }

    /// Mark the next written sample as the start of utterance `id` (`None`: the end of a
    /// stream); false if the marks ring is full (try again after the consumer moved on).
    pub fn mark(&mut self, id: Option<u64>) -> bool {
        self.marks.push(Mark { pos: self.pos, id }).is_ok()
    }
}

/// The consumer end, owned by the device callback or a sink thread.
pub struct Player {
    samples: rtrb::Consumer<f32>,
    marks: rtrb::Consumer<Mark>,
    started: rtrb::Producer<Started>,
    shared: Arc<Shared>,
    pos: u64,
    /// Real samples were played since the last gap or flush.
    in_audio: bool,
    /// The ring ran dry while `in_audio`: the next sample ends a gap.
    dry: bool,
}

impl Player {
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Frames ready to be taken now.
    pub fn available(&self) -> usize {
        self.samples.slots()
    }

    /// Fill an interleaved buffer of `channels` channels: queued mono samples spread to every
    /// channel, converted to `S`, then silence. `now` is the `monotonic()` time of this call,
    /// recorded for each utterance whose first sample is taken here.
    ///
    /// Real-time safe: no allocation, no lock, no blocking.
    pub fn fill<S>(&mut self, out: &mut [S], channels: usize, now: f64)
    where
        S: Sample + FromSample<f32>,
    {
        self.shared.callbacks.fetch_add(1, Ordering::Relaxed);
        let channels = channels.max(1);
        let frames = out.len() / channels;

        let flush_to = self.shared.flush_to.load(Ordering::Acquire);
        if flush_to > self.pos {
            self.skip(flush_to);
        }
        let sh = &*self.shared;

        let mut done = 0;
        while done < frames {
            let avail = self.samples.slots();
            if avail == 0 {
                if self.in_audio {
                    self.in_audio = false;
                    self.dry = true;
                }
                break;
            }
            if self.dry {
                // A gap that ends at an utterance start or at the end of a drained stream was
                // idle silence; any other gap cut an utterance short.
                if !self.marks.peek().is_ok_and(|m| m.pos == self.pos) {
                    sh.underruns.fetch_add(1, Ordering::Relaxed);
                }
                self.dry = false;
            }
            let n = avail.min(frames - done);
            let end = self.pos + n as u64;
            while let Ok(m) = self.marks.peek() {
                if m.pos >= end {
                    break;
                }
                let id = m.id;
                let _ = self.marks.pop();
                if let Some(id) = id {
                    if self.started.push(Started { id, at: now }).is_err() {
                        sh.marks_lost.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            let Ok(chunk) = self.samples.read_chunk(n) else {
                break;
            };
            let (a, b) = chunk.as_slices();
            let dst = &mut out[done * channels..(done + n) * channels];
            let (da, db) = dst.split_at_mut(a.len() * channels);
            spread(a, da, channels);
            spread(b, db, channels);
            chunk.commit_all();
            self.pos = end;
            done += n;
            self.in_audio = true;
        }
        for s in &mut out[done * channels..] {
            *s = S::EQUILIBRIUM;
        }
        if done > 0 {
            sh.played.fetch_add(done as u64, Ordering::Relaxed);
        }
        sh.read.store(self.pos, Ordering::Release);
    }

    /// Drop queued samples (and their marks) up to `to`, as far as they have arrived.
    fn skip(&mut self, to: u64) {
        let n = ((to - self.pos) as usize).min(self.samples.slots());
        if let Ok(chunk) = self.samples.read_chunk(n) {
            chunk.commit_all();
        }
        self.pos += n as u64;
        while self.marks.peek().is_ok_and(|m| m.pos < self.pos) {
            let _ = self.marks.pop();
        }
        // What follows a flush starts afresh: the silence before it is no underrun.
        self.in_audio = false;
        self.dry = false;
    }
}

/// Write each mono sample to every channel of its frame.
#[inline]
fn spread<S>(src: &[f32], dst: &mut [S], channels: usize)
where
    S: Sample + FromSample<f32>,
{
    if channels == 1 {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = S::from_sample_(*s);
        }
        return;
    }
    for (frame, s) in dst.chunks_exact_mut(channels).zip(src) {
        let v = S::from_sample_(*s);
        frame.fill(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize) -> Vec<f32> {
        (0..n).map(|i| (i as f32 + 1.0) / 1000.0).collect()
    }

    fn load(a: &AtomicU64) -> u64 {
        a.load(Ordering::SeqCst)
    }

    #[test]
    fn spreads_mono_to_all_channels_in_order() {
        let (mut f, mut p, _) = channel(64);
        assert_eq!(f.write_some(&ramp(5)), 5);
        let mut out = [9.0f32; 12];
        p.fill(&mut out, 2, 0.0);
        let want = [
            0.001, 0.001, 0.002, 0.002, 0.003, 0.003, 0.004, 0.004, 0.005, 0.005, 0.0, 0.0,
        ];
        assert_eq!(out, want);
        assert_eq!(load(&p.shared.played), 5);
        assert_eq!(load(&p.shared.read), 5);
    }

    #[test]
    fn converts_to_integer_formats() {
        let (mut f, mut p, _) = channel(64);
        f.write_some(&[0.5f32, -0.5, 1.0, -1.0]);
        let mut out16 = [1i16; 4];
        p.fill(&mut out16, 1, 0.0);
        assert_eq!(out16, [16384, -16384, i16::MAX, i16::MIN]);

        f.write_some(&[0.5f32, -1.0]);
        let mut out32 = [1i32; 3];
        p.fill(&mut out32, 1, 0.0);
        assert_eq!(out32, [1 << 30, i32::MIN, 0]);
    }

    #[test]
    fn int16_input_is_scaled() {
        let (mut f, mut p, _) = channel(8);
        f.write_some(&[16384i16, -32768]);
        let mut out = [0f32; 2];
        p.fill(&mut out, 1, 0.0);
        assert_eq!(out, [0.5, -1.0]);
    }

    #[test]
    fn wraps_around_the_ring() {
        let (mut f, mut p, _) = channel(8);
        let mut out = [0f32; 6];
        for round in 0..5 {
            let src: Vec<f32> = (0..6).map(|i| (round * 6 + i) as f32).collect();
            assert_eq!(f.write_some(&src), 6);
            p.fill(&mut out, 1, 0.0);
            assert_eq!(out.to_vec(), src);
        }
    }

    #[test]
    fn full_ring_takes_what_fits() {
        let (mut f, mut p, _) = channel(4);
        assert_eq!(f.write_some(&ramp(10)), 4);
        assert_eq!(f.write_some(&ramp(10)), 0);
        let mut out = [0f32; 2];
        p.fill(&mut out, 1, 0.0);
        assert_eq!(f.write_some(&ramp(10)), 2);
        assert_eq!(f.position(), 6);
    }

    #[test]
    fn marks_report_pickup_time_of_first_sample() {
        let (mut f, mut p, mut t) = channel(64);
        assert!(f.mark(Some(7)));
        f.write_some(&ramp(10));
        assert!(f.mark(Some(8)));
        f.write_some(&ramp(10));
        let mut out = [0f32; 8];
        p.fill(&mut out, 1, 1.5); // 0..8: utterance 7 starts
        p.fill(&mut out, 1, 2.5); // 8..16: utterance 8 starts at 10
        p.fill(&mut out, 1, 3.5);
        let mut got = vec![];
        t.take(|s| got.push(s));
        assert_eq!(
            got,
            [Started { id: 7, at: 1.5 }, Started { id: 8, at: 2.5 }]
        );
    }

    #[test]
    fn idle_silence_is_no_underrun_but_a_gap_mid_utterance_is() {
        let (mut f, mut p, _) = channel(64);
        let mut out = [0f32; 8];
        p.fill(&mut out, 1, 0.0); // idle before anything
        f.mark(Some(1));
        f.write_some(&ramp(8));
        p.fill(&mut out, 1, 0.0);
        p.fill(&mut out, 1, 0.0); // ran dry
        p.fill(&mut out, 1, 0.0);
        assert_eq!(load(&p.shared.underruns), 0, "not counted until we know");
        f.write_some(&ramp(4)); // the same utterance goes on: that was a gap
        p.fill(&mut out, 1, 0.0);
        assert_eq!(load(&p.shared.underruns), 1);
        f.mark(Some(2)); // a new utterance after the gap: idle silence
        f.write_some(&ramp(4));
        p.fill(&mut out, 1, 0.0);
        assert_eq!(load(&p.shared.underruns), 1);
        // The end of a drained stream is a break as well.
        assert!(f.mark(None));
        p.fill(&mut out, 1, 0.0);
        f.write_some(&ramp(4));
        p.fill(&mut out, 1, 0.0);
        assert_eq!(load(&p.shared.underruns), 1);
        assert_eq!(load(&p.shared.played), 20);
    }

    #[test]
    fn partial_callback_then_continuation_counts_once() {
        let (mut f, mut p, _) = channel(64);
        f.mark(Some(1));
        f.write_some(&ramp(3));
        let mut out = [7f32; 8];
        p.fill(&mut out, 1, 0.0);
        assert_eq!(&out[3..], &[0.0; 5]);
        p.fill(&mut out, 1, 0.0);
        f.write_some(&ramp(20));
        p.fill(&mut out, 1, 0.0);
        p.fill(&mut out, 1, 0.0);
        assert_eq!(load(&p.shared.underruns), 1);
    }

    #[test]
    fn flush_skips_queued_samples_and_their_marks() {
        let (mut f, mut p, mut t) = channel(64);
        f.mark(Some(1));
        f.write_some(&ramp(20));
        let mut out = [0f32; 4];
        p.fill(&mut out, 1, 0.0);
        f.mark(Some(2));
        f.write_some(&ramp(20));
        // The producer side of `flush`.
        p.shared.flush_to.fetch_max(f.position(), Ordering::SeqCst);
        p.fill(&mut out, 1, 0.0);
        assert_eq!(out, [0.0; 4], "silent within one callback");
        assert_eq!(load(&p.shared.read), 40);
        f.mark(Some(3));
        f.write_some(&[0.25f32; 4]);
        p.fill(&mut out, 1, 9.0);
        assert_eq!(out, [0.25; 4]);
        let mut got = vec![];
        t.take(|s| got.push(s.id));
        assert_eq!(got, [1, 3], "utterance 2 was flushed before it started");
        assert_eq!(load(&p.shared.underruns), 0);
    }
}
