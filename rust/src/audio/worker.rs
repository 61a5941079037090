//! A thread that plays the consumer's part for sinks without a device (null, WAV).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::clock::monotonic;
use super::ring::Player;
use crate::error::{Error, Result};

/// How the thread takes samples.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// A period's worth every period, silence when the ring is short: a device's timing.
    Realtime { period: u32, rate: u32 },
    /// Whatever is queued, as soon as it is there; never silence, never an underrun.
    AsFast { block: u32 },
}

pub struct Worker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl Worker {
    /// Run `write` on every block taken from `player`, then `finish` once stopped.
    pub fn spawn<S, W, F>(
        name: &str,
        mut player: Player,
        pace: Pace,
        mut write: W,
        finish: F,
    ) -> Result<Self>
    where
        S: cpal::Sample + cpal::FromSample<f32> + Send + 'static,
        W: FnMut(&[S]) -> Result<()> + Send + 'static,
        F: FnOnce() -> Result<()> + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || -> Result<()> {
                let mut failed: Option<Error> = None;
                let mut note = |r: Result<()>, player: &Player| {
                    if let Err(e) = r {
                        player
                            .shared()
                            .device_errors
                            .fetch_add(1, Ordering::Relaxed);
                        failed.get_or_insert(e);
                    }
                };
                match pace {
                    Pace::Realtime { period, rate } => {
                        let mut buf = vec![S::EQUILIBRIUM; period as usize];
                        let step = Duration::from_secs_f64(f64::from(period) / f64::from(rate));
                        let mut next = Instant::now();
                        while !flag.load(Ordering::Acquire) {
                            player.fill(&mut buf, 1, monotonic());
                            let r = write(&buf);
                            note(r, &player);
                            next += step;
                            let now = Instant::now();
                            if next > now {
                                std::thread::sleep(next - now);
                            }
                        }
                    }
                    Pace::AsFast { block } => {
                        let mut buf = vec![S::EQUILIBRIUM; block as usize];
                        loop {
                            let n = player.available().min(buf.len());
                            if n == 0 {
                                // Stop only once empty: close() drains what was pushed.
                                if flag.load(Ordering::Acquire) {
                                    break;
                                }
                                std::thread::sleep(Duration::from_millis(1));
                                continue;
                            }
                            player.fill(&mut buf[..n], 1, monotonic());
                            let r = write(&buf[..n]);
                            note(r, &player);
                        }
                    }
                }
                let r = finish();
                note(r, &player);
                failed.map_or(Ok(()), Err)
            })
            .map_err(|e| Error::Audio(format!("cannot start the sink thread: {e}")))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    pub fn stop(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| Error::Audio("the sink thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
