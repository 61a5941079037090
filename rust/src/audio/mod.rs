//! Audio output: numpy samples -> lock-free ring -> device callback (or WAV file, or nothing).
//!
//! - [`ring`]: the SPSC rings and [`ring::Player::fill`], the whole callback, device-free;
//! - [`sink`]: the producer side shared by every sink (push, flush, drain, marks, counters);
//! - [`device`]: cpal output on its own thread; [`wav`], [`null`]: sinks without a device;
//! - [`resample`]: rubato on the producer side when the device cannot take the model's rate.

pub mod clock;
pub mod device;
pub mod null;
pub mod resample;
pub mod ring;
pub mod sink;
pub mod wav;
mod worker;

pub use clock::monotonic;
pub use device::{DeviceInfo, DeviceRequest};
pub use sink::{Pushed, Sink};

use crate::error::Result;

/// Open an output device (the default one when `req.name` is `None`).
pub fn open_device(req: DeviceRequest) -> Result<(Sink, device::Opened)> {
    null::check_rate(req.sample_rate)?;
    if !(req.buffer_ms > 0.0 && req.buffer_ms <= 1000.0) {
        return Err(crate::Error::InvalidArgument(format!(
            "buffer_ms must be in (0, 1000], got {}",
            req.buffer_ms
        )));
    }
    if !(req.ring_ms >= 10.0 && req.ring_ms <= 600_000.0) {
        return Err(crate::Error::InvalidArgument(format!(
            "ring_ms must be in [10, 600000], got {}",
            req.ring_ms
        )));
    }
    let rate = req.sample_rate;
    let (out, feeder, starts) = device::open(req)?;
    let opened = out.opened.clone();
    Ok((Sink::new(rate, (feeder, starts), Box::new(out))?, opened))
}

/// The output devices.
pub fn list_devices() -> Result<Vec<DeviceInfo>> {
    device::list()
}
