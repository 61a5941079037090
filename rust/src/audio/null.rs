//! A sink that plays into nothing: for benchmarks and tests of everything before the device.

use super::ring;
use super::sink::{Driver, Sink};
use super::worker::{Pace, Worker};
use crate::error::{Error, Result};

/// Period of the real-time null sink: 10 ms, like a small device buffer.
const PERIOD_MS: u32 = 10;

struct NullDriver {
    worker: Worker,
    rate: u32,
    period: u32,
}

impl Driver for NullDriver {
    fn stop(&mut self) -> Result<()> {
        self.worker.stop()
    }
    fn buffer_frames(&self) -> u32 {
        self.period
    }
    fn rate(&self) -> u32 {
        self.rate
    }
}

/// A null sink at `sample_rate`. `realtime`: consume at the rate a device would (10 ms
/// periods, silence and underruns when short); otherwise as fast as samples come.
pub fn open(sample_rate: u32, realtime: bool, ring_ms: f64) -> Result<Sink> {
    check_rate(sample_rate)?;
    let period = (sample_rate * PERIOD_MS / 1000).max(1);
    let frames = ((ring_ms * f64::from(sample_rate) / 1000.0) as usize).max(4 * period as usize);
    let (feeder, player, starts) = ring::channel(frames);
    let pace = if realtime {
        Pace::Realtime {
            period,
            rate: sample_rate,
        }
    } else {
        Pace::AsFast { block: 4096 }
    };
    let worker =
        Worker::spawn::<f32, _, _>("stream-tts-null", player, pace, |_| Ok(()), || Ok(()))?;
    let driver = NullDriver {
        worker,
        rate: sample_rate,
        period: if realtime { period } else { 0 },
    };
    Sink::new(sample_rate, (feeder, starts), Box::new(driver))
}

pub(crate) fn check_rate(rate: u32) -> Result<()> {
    if (1000..=768_000).contains(&rate) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "sample_rate must be between 1000 and 768000 Hz, got {rate}"
        )))
    }
}
