//! The producer side every sink shares: push (with resampling and utterance marks), flush,
//! drain, start times and counters. What consumes the ring (a device callback, a WAV writer,
//! a null player) is the sink's [`Driver`].
//!
//! Thread-safe by design so the pipeline can push from a worker while the main thread
//! flushes or reads start times: `push`/`drain` hold the producer lock, `flush` and the
//! counters are atomics, start times have their own lock.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::resample::Resample;
use super::ring::{Feeder, InSample, Shared, Started, StartsRx};
use crate::error::{Error, Result};

/// How long a waiting `push`/`drain` sleeps between looks at the ring.
const WAIT_STEP: Duration = Duration::from_millis(2);
/// How often a waiting `push`/`drain` calls its `poll` (Ctrl-C checks from Python).
const POLL_EVERY: Duration = Duration::from_millis(15);
/// Slack on top of the device's reported delay before `drain` returns.
const DRAIN_MARGIN: Duration = Duration::from_millis(5);
/// Start times kept for `utterance_started`.
const STARTS_KEPT: usize = 4096;

/// What consumes the ring; dropping it stops consumption.
pub trait Driver: Send {
    /// Stop consuming; called once, from `close`. Errors are those the consumer met.
    fn stop(&mut self) -> Result<()>;
    /// Frames per consumer period (the device buffer actually obtained).
    fn buffer_frames(&self) -> u32;
    /// Rate the consumer takes samples at.
    fn rate(&self) -> u32;
    /// Output channels.
    fn channels(&self) -> u16 {
        1
    }
    /// Whether `close` should let the consumer take everything queued first.
    fn finish_on_close(&self) -> bool {
        false
    }
}

/// What a `push` did with its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    All,
    /// A `flush` came while this push was writing: the rest was dropped.
    Flushed,
}

struct Producer {
    feeder: Feeder,
    resample: Option<Resample>,
    scratch: Vec<f32>,
    /// The flush generation the resampler state belongs to.
    gen: u64,
    /// Position of the last end-of-stream mark, so repeated drains add no more.
    last_break: Option<u64>,
}

struct Starts {
    rx: StartsRx,
    times: HashMap<u64, f64>,
    order: VecDeque<u64>,
}

impl Starts {
    /// Move reported start times from the return ring into the map (bounded).
    fn collect(&mut self) {
        let Self { rx, times, order } = self;
        rx.take(|Started { id, at }| {
            if times.insert(id, at).is_none() {
                order.push_back(id);
            }
            while order.len() > STARTS_KEPT {
                if let Some(old) = order.pop_front() {
                    times.remove(&old);
                }
            }
        });
    }
}

pub struct Sink {
    producer: Mutex<Producer>,
    starts: Mutex<Starts>,
    shared: Arc<Shared>,
    driver: Mutex<Option<Box<dyn Driver>>>,
    sample_rate: u32,
    device_rate: u32,
    buffer_frames: u32,
    channels: u16,
    ring_frames: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not wedge audio: the guarded state stays consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sink {
    /// A sink taking `sample_rate` samples, consumed by `driver` through `feeder`'s ring.
    pub fn new(
        sample_rate: u32,
        (feeder, starts): (Feeder, StartsRx),
        driver: Box<dyn Driver>,
    ) -> Result<Self> {
        let device_rate = driver.rate();
        let resample = if device_rate != sample_rate {
            Some(Resample::new(sample_rate, device_rate)?)
        } else {
            None
        };
        let shared = feeder.shared().clone();
        let ring_frames = feeder.capacity();
        Ok(Self {
            buffer_frames: driver.buffer_frames(),
            channels: driver.channels(),
            producer: Mutex::new(Producer {
                feeder,
                resample,
                scratch: Vec::new(),
                gen: shared.flush_gen.load(Ordering::SeqCst),
                last_break: None,
            }),
            starts: Mutex::new(Starts {
                rx: starts,
                times: HashMap::new(),
                order: VecDeque::new(),
            }),
            shared,
            driver: Mutex::new(Some(driver)),
            sample_rate,
            device_rate,
            ring_frames,
        })
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    pub fn device_rate(&self) -> u32 {
        self.device_rate
    }

    pub fn buffer_frames(&self) -> u32 {
        self.buffer_frames
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Queue mono samples; with `utterance`, the first of them starts that utterance.
    /// Waits while the ring is full, calling `poll` every ~15 ms (its error aborts the push).
    pub fn push<T: InSample, E: From<Error>>(
        &self,
        samples: &[T],
        utterance: Option<u64>,
        poll: &mut dyn FnMut() -> Result<(), E>,
    ) -> Result<Pushed, E> {
        if self.closed() {
            return Err(closed().into());
        }
        if let Some(e) = self.shared.write_failed() {
            return Err(Error::Io(e).into());
        }
        // Keep the return ring from filling when nobody asks for start times.
        if let Ok(mut starts) = self.starts.try_lock() {
            starts.collect();
        }
        let mut p = lock(&self.producer);
        let gen = self.shared.flush_gen.load(Ordering::SeqCst);
        let mut wait = Waiter::new(poll);
        let p = &mut *p;
        if p.gen != gen {
            // A flush dropped what the resampler had started.
            if let Some(r) = &mut p.resample {
                r.reset();
            }
            p.gen = gen;
        }
        // An empty utterance never starts; its mark could not pass the consumer either.
        let utterance = utterance.filter(|_| !samples.is_empty());
        if let Some(id) = utterance {
            // The previous utterance's tail goes before the new mark.
            if let Some(r) = p.resample.as_mut().filter(|r| r.active()) {
                p.scratch.clear();
                r.finish(&mut p.scratch)?;
                if self.write_all(&mut p.feeder, &p.scratch, gen, &mut wait)? == Pushed::Flushed {
                    return Ok(Pushed::Flushed);
                }
            }
            while !p.feeder.mark(Some(id)) {
                if self.shared.flush_gen.load(Ordering::SeqCst) != gen {
                    return Ok(Pushed::Flushed);
                }
                wait.wait(self)?;
            }
        }
        match &mut p.resample {
            None => self.write_all(&mut p.feeder, samples, gen, &mut wait),
            Some(r) => {
                p.scratch.clear();
                r.process(samples, &mut p.scratch)?;
                self.write_all(&mut p.feeder, &p.scratch, gen, &mut wait)
            }
        }
    }

    fn write_all<T: InSample, E: From<Error>>(
        &self,
        feeder: &mut Feeder,
        mut rest: &[T],
        gen: u64,
        wait: &mut Waiter<'_, E>,
    ) -> Result<Pushed, E> {
        while !rest.is_empty() {
            let n = feeder.write_some(rest);
            // Any flush after this push began drops what it wrote, even a racing one: `flush`
            // bumps the generation before reading `written` (both SeqCst), so either it sees
            // these samples or we see the new generation.
            if self.shared.flush_gen.load(Ordering::SeqCst) != gen {
                self.shared
                    .flush_to
                    .fetch_max(feeder.position(), Ordering::SeqCst);
                return Ok(Pushed::Flushed);
            }
            rest = &rest[n..];
            if n == 0 {
                wait.wait(self)?;
            }
        }
        Ok(Pushed::All)
    }

    /// Drop everything queued: the consumer skips it at its next period. A `push` blocked
    /// in another thread returns at once.
    pub fn flush(&self) {
        self.shared.flush_gen.fetch_add(1, Ordering::SeqCst);
        let w = self.shared.written.load(Ordering::SeqCst);
        self.shared.flush_to.fetch_max(w, Ordering::SeqCst);
    }

    /// Wait until everything pushed has been played (taken by the consumer, plus the
    /// device's own delay). False on timeout or when the sink closed meanwhile.
    pub fn drain<E: From<Error>>(
        &self,
        timeout: Option<Duration>,
        poll: &mut dyn FnMut() -> Result<(), E>,
    ) -> Result<bool, E> {
        if self.closed() {
            return Ok(self.shared.queued() == 0);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut wait = Waiter::new(poll);
        let target = {
            let mut p = lock(&self.producer);
            let p = &mut *p;
            let gen = self.shared.flush_gen.load(Ordering::SeqCst);
            if let Some(r) = p.resample.as_mut().filter(|r| r.active()) {
                p.scratch.clear();
                r.finish(&mut p.scratch)?;
                self.write_all(&mut p.feeder, &p.scratch, gen, &mut wait)?;
            }
            // Silence after this point is the end of the stream, not an underrun. With the
            // marks ring full (256 utterances queued) the gap is simply not excused.
            let end = p.feeder.position();
            if p.last_break != Some(end) && p.feeder.mark(None) {
                p.last_break = Some(end);
            }
            end
        };
        let timed_out = |deadline: Option<Instant>| deadline.is_some_and(|d| Instant::now() >= d);
        while self.shared.read.load(Ordering::Acquire) < target {
            if self.closed() || timed_out(deadline) {
                return Ok(false);
            }
            wait.wait_open()?;
        }
        // The last samples are in the device's buffer now; wait out its delay: the reported
        // callback-to-playback latency, plus one period for the end of the last buffer, plus
        // a little for the delay estimate itself.
        let latency = if self.buffer_frames == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.shared.latency_ns.load(Ordering::Relaxed))
                + Duration::from_secs_f64(
                    f64::from(self.buffer_frames) / f64::from(self.device_rate.max(1)),
                )
                + DRAIN_MARGIN
        };
        let until = Instant::now() + latency;
        while Instant::now() < until {
            if timed_out(deadline) {
                return Ok(false);
            }
            wait.wait_open()?;
        }
        Ok(true)
    }

    /// The `monotonic()` time the utterance's first sample was taken by the consumer.
    pub fn utterance_started(&self, id: u64) -> Option<f64> {
        let mut g = lock(&self.starts);
        g.collect();
        g.times.get(&id).copied()
    }

    /// Counters and settings, for `stats()`.
    pub fn stats(&self) -> Vec<(&'static str, f64)> {
        let s = &*self.shared;
        let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
        vec![
            ("underruns", n(&s.underruns)),
            ("samples_played", n(&s.played)),
            ("device_errors", n(&s.device_errors)),
            ("device_error_reports", n(&s.device_error_reports)),
            ("xruns", n(&s.xruns)),
            (
                "device_lost",
                f64::from(u8::from(s.device_lost.load(Ordering::Relaxed))),
            ),
            ("buffer_frames", f64::from(self.buffer_frames)),
            ("device_rate", f64::from(self.device_rate)),
            ("sample_rate", f64::from(self.sample_rate)),
            ("channels", f64::from(self.channels)),
            ("queued_frames", s.queued() as f64),
            ("ring_frames", self.ring_frames as f64),
            ("callbacks", n(&s.callbacks)),
            ("marks_lost", n(&s.marks_lost)),
            ("output_latency", n(&s.latency_ns) * 1e-9),
            (
                "resampling",
                f64::from(u8::from(self.device_rate != self.sample_rate)),
            ),
        ]
    }

    /// Stop the consumer (WAV: after writing everything queued). Idempotent.
    pub fn close(&self) -> Result<()> {
        let driver = lock(&self.driver).take();
        let Some(mut driver) = driver else {
            return Ok(());
        };
        if driver.finish_on_close() {
            // Let the consumer take the resampler's tail and everything queued.
            let _ = self.drain::<Error>(None, &mut || Ok(()));
        }
        self.shared.closed.store(true, Ordering::Release);
        driver.stop()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

fn closed() -> Error {
    Error::Audio("the sink is closed".into())
}

fn lost() -> Error {
    Error::Audio(
        "the audio device stopped working (it kept failing for 2 s: the sound server may have \
         been restarted)"
            .into(),
    )
}

/// Sleeps in short steps, calling `poll` every `POLL_EVERY`.
struct Waiter<'a, E> {
    poll: &'a mut dyn FnMut() -> Result<(), E>,
    last: Instant,
}

impl<'a, E: From<Error>> Waiter<'a, E> {
    fn new(poll: &'a mut dyn FnMut() -> Result<(), E>) -> Self {
        Self {
            poll,
            last: Instant::now(),
        }
    }

    fn wait(&mut self, sink: &Sink) -> Result<(), E> {
        if sink.closed() {
            return Err(closed().into());
        }
        if sink.shared.device_lost.load(Ordering::Acquire) {
            return Err(lost().into());
        }
        if let Some(e) = sink.shared.write_failed() {
            return Err(Error::Io(e).into());
        }
        self.wait_open()
    }

    fn wait_open(&mut self) -> Result<(), E> {
        std::thread::sleep(WAIT_STEP);
        if self.last.elapsed() >= POLL_EVERY {
            self.last = Instant::now();
            (self.poll)()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::ring;

    /// A consumer the test drives by hand, at a given rate.
    struct Manual(u32);

    impl Driver for Manual {
        fn stop(&mut self) -> Result<()> {
            Ok(())
        }
        fn buffer_frames(&self) -> u32 {
            0
        }
        fn rate(&self) -> u32 {
            self.0
        }
    }

    fn ok() -> Result<(), Error> {
        Ok(())
    }

    fn sink(rate: u32, device_rate: u32, frames: usize) -> (Sink, ring::Player) {
        let (f, p, t) = ring::channel(frames);
        (
            Sink::new(rate, (f, t), Box::new(Manual(device_rate))).unwrap(),
            p,
        )
    }

    #[test]
    fn resampled_utterances_start_exactly_at_their_marks() {
        let (sink, mut player) = sink(24000, 48000, 100_000);
        sink.push(&[0.5f32; 2400], Some(1), &mut ok).unwrap();
        sink.push(&[0.5f32; 2400], None, &mut ok).unwrap();
        // The first utterance's filter tail goes out before the second one's mark.
        sink.push(&[-16384i16; 2400], Some(2), &mut ok).unwrap();
        assert!(sink.drain(Some(Duration::ZERO), &mut ok).is_ok());
        let mut out = vec![0f32; 20000];
        player.fill(&mut out[..9000], 1, 1.0);
        player.fill(&mut out[9000..], 1, 2.0);
        assert_eq!(sink.utterance_started(1), Some(1.0));
        assert_eq!(sink.utterance_started(2), Some(2.0));
        assert_eq!(sink.shared().played.load(Ordering::SeqCst), 9600 + 4800);
        assert!(out[100..9500].iter().all(|x| (x - 0.5).abs() < 0.01));
        assert!(out[9700..14300].iter().all(|x| (x + 0.5).abs() < 0.01));
        assert!(out[14400..].iter().all(|x| *x == 0.0));
    }

    #[test]
    fn flush_from_another_thread_releases_a_blocked_push() {
        let (sink, mut player) = sink(16000, 16000, 1000);
        let sink = Arc::new(sink);
        let pusher = {
            let sink = sink.clone();
            std::thread::spawn(move || sink.push(&[0.25f32; 50_000], Some(9), &mut ok).unwrap())
        };
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(sink.shared().queued(), 1000, "the ring is full, push waits");
        sink.flush();
        assert_eq!(pusher.join().unwrap(), Pushed::Flushed);
        let mut out = [1f32; 64];
        player.fill(&mut out, 2, 0.0);
        assert_eq!(out, [0.0; 64], "nothing of the flushed push plays");
        sink.push(&[0.75f32; 10], None, &mut ok).unwrap();
        player.fill(&mut out, 2, 0.0);
        assert_eq!(&out[..20], &[0.75; 20]);
    }

    #[test]
    fn poll_errors_abort_a_waiting_push() {
        let (sink, _player) = sink(16000, 16000, 100);
        let mut calls = 0;
        let mut poll = || {
            calls += 1;
            if calls == 3 {
                Err(Error::Audio("interrupted".into()))
            } else {
                Ok(())
            }
        };
        let r = sink.push(&[0.0f32; 1000], None, &mut poll);
        assert!(matches!(r, Err(Error::Audio(m)) if m == "interrupted"));
    }

    #[test]
    fn a_lost_device_fails_a_waiting_push_instead_of_blocking() {
        let (sink, _player) = sink(16000, 16000, 100);
        let shared = sink.shared.clone();
        let lose = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            shared.device_lost.store(true, Ordering::Release);
        });
        // The ring holds 100 frames and nobody plays: only the lost flag can end this push.
        let r = sink.push(&[0.0f32; 1000], None, &mut ok);
        lose.join().unwrap();
        assert!(matches!(r, Err(Error::Audio(m)) if m.contains("stopped working")));
        let stats = sink.stats();
        assert!(stats.contains(&("device_lost", 1.0)));
    }

    #[test]
    fn drain_waits_for_the_consumer_and_times_out() {
        let (sink, mut player) = sink(16000, 16000, 1000);
        sink.push(&[0.1f32; 500], None, &mut ok).unwrap();
        assert!(!sink
            .drain(Some(Duration::from_millis(20)), &mut ok)
            .unwrap());
        let mut out = [0f32; 500];
        player.fill(&mut out, 1, 0.0);
        assert!(sink
            .drain(Some(Duration::from_millis(20)), &mut ok)
            .unwrap());
    }

    #[test]
    fn idle_drains_and_empty_utterances_never_fill_the_marks_ring() {
        let (sink, mut player) = sink(16000, 16000, 1000);
        for i in 0..1000 {
            assert!(sink.drain(Some(Duration::ZERO), &mut ok).unwrap());
            sink.push(&[0f32; 0], Some(i), &mut ok).unwrap();
        }
        // Were the marks ring full, this push would wait for ever.
        sink.push(&[0.5f32; 10], Some(5000), &mut ok).unwrap();
        let mut out = [0f32; 10];
        player.fill(&mut out, 1, 3.0);
        assert_eq!(sink.utterance_started(5000), Some(3.0));
        assert_eq!(sink.utterance_started(7), None);
    }

    #[test]
    fn closed_sink_refuses_pushes() {
        let (sink, _player) = sink(16000, 16000, 1000);
        sink.close().unwrap();
        assert!(sink.push(&[0.0f32; 10], None, &mut ok).is_err());
        sink.close().unwrap();
    }
}
