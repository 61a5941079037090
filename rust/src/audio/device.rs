//! The sound device (cpal): choosing a configuration, and a thread that owns the stream.
//!
//! cpal's `Stream` is `!Send` on some platforms, so a dedicated thread builds, plays and
//! finally drops it; the sink keeps only a channel to that thread and is `Send + Sync`.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{
    BufferSize, FromSample, SampleFormat, SizedSample, StreamConfig, SupportedBufferSize,
    SupportedStreamConfigRange,
};

use super::clock::monotonic;
use super::ring::{self, Feeder, Player, StartsRx};
use super::sink::Driver;
use crate::error::{Error, Result};

/// Device error reports closer together than this are one episode.
const ERROR_QUIET: Duration = Duration::from_millis(50);
/// An error burst this long with no quiet gap means the device is gone (the PulseAudio
/// server died, say): cpal's ALSA worker would otherwise spin on EIO at full CPU.
const DEVICE_LOST_AFTER: Duration = Duration::from_secs(2);

/// Formats the callback can write, best first.
const FORMATS: [SampleFormat; 3] = [SampleFormat::F32, SampleFormat::I16, SampleFormat::I32];

/// Rates worth listing in `list_devices`.
const COMMON_RATES: [u32; 10] = [
    8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000,
];

/// What to open.
#[derive(Debug, Clone)]
pub struct DeviceRequest {
    /// `None`: the default output device.
    pub name: Option<String>,
    /// The rate of the pushed samples; used by the device when it can.
    pub sample_rate: u32,
    /// Device buffer (callback period) to ask for, in milliseconds.
    pub buffer_ms: f64,
    /// Ring capacity in milliseconds of audio.
    pub ring_ms: f64,
    /// Force the device rate (we resample when it differs from `sample_rate`).
    pub device_rate: Option<u32>,
    /// Force the device sample format (f32, i16 or i32).
    pub format: Option<SampleFormat>,
}

/// One output device, as `list_devices` reports it.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    /// The name to pass back as `device=` (ALSA: the PCM name).
    pub name: String,
    pub description: String,
    pub default: bool,
    pub sample_rates: Vec<u32>,
    pub channels: Vec<u16>,
    pub formats: Vec<String>,
    /// A stream opens on it and it plays somewhere: not ALSA's discarding `null` PCM, not
    /// the `default` of a machine without a card or sound server.
    pub usable: bool,
}

/// ALSA's `null` PCM accepts any stream and discards the audio.
const DISCARDS: &[&str] = &["null"];

/// Whether a stream with the device's default configuration can be built (the step that fails
/// for a device with no card or server behind it); the stream is dropped unplayed.
fn opens(d: &cpal::Device) -> bool {
    let Ok(cfg) = d.default_output_config() else {
        return false;
    };
    d.build_output_stream_raw(
        cfg.config(),
        cfg.sample_format(),
        |_: &mut cpal::Data, _: &cpal::OutputCallbackInfo| {},
        |_| {},
        None,
    )
    .is_ok()
}

/// The configuration a stream was opened with.
#[derive(Debug, Clone)]
pub struct Opened {
    pub name: String,
    pub rate: u32,
    pub channels: u16,
    pub format: SampleFormat,
    pub buffer_frames: u32,
}

/// The device side of a sink: dropping or stopping it ends the stream thread.
pub struct DeviceOutput {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    pub opened: Opened,
}

impl Driver for DeviceOutput {
    fn stop(&mut self) -> Result<()> {
        // Send rather than only drop: the error callback holds a clone of this sender.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join()
                .map_err(|_| Error::Audio("the audio thread panicked".into()))?;
        }
        Ok(())
    }
    fn buffer_frames(&self) -> u32 {
        self.opened.buffer_frames
    }
    fn rate(&self) -> u32 {
        self.opened.rate
    }
    fn channels(&self) -> u16 {
        self.opened.channels
    }
}

impl Drop for DeviceOutput {
    fn drop(&mut self) {
        let _ = Driver::stop(self);
    }
}

/// Open the device on its own thread; the ring is sized once the device rate is known.
pub fn open(req: DeviceRequest) -> Result<(DeviceOutput, Feeder, StartsRx)> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    // The error callback stops the stream through the same channel when the device is lost.
    let lost_tx = stop_tx.clone();
    let thread = std::thread::Builder::new()
        .name("stream-tts-audio".into())
        .spawn(move || match start(&req, lost_tx) {
            Ok((stream, opened, feeder, starts)) => {
                if ready_tx.send(Ok((opened, feeder, starts))).is_ok() {
                    // Park until the sink stops us (or is dropped), then drop the stream here.
                    let _ = stop_rx.recv();
                }
                drop(stream);
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        })
        .map_err(|e| Error::Audio(format!("cannot start the audio thread: {e}")))?;
    let (opened, feeder, starts) = ready_rx
        .recv()
        .map_err(|_| Error::Audio("the audio thread died while opening the device".into()))??;
    Ok((
        DeviceOutput {
            stop: Some(stop_tx),
            thread: Some(thread),
            opened,
        },
        feeder,
        starts,
    ))
}

type Running = (cpal::Stream, Opened, Feeder, StartsRx);

fn start(req: &DeviceRequest, lost: mpsc::Sender<()>) -> Result<Running> {
    let host = cpal::default_host();
    let device = find(&host, req.name.as_deref())?;
    let name = device_name(&device);
    let no_device = |e: &dyn std::fmt::Display| match req.name {
        // Nothing named and the default will not open: there is no usable device.
        None => Error::NoAudioDevice(format!("the default device {name:?} fails: {e}")),
        Some(_) => Error::Audio(format!("device {name:?}: {e}")),
    };
    let ranges: Vec<_> = device
        .supported_output_configs()
        .map_err(|e| no_device(&e))?
        .collect();
    let default = device.default_output_config().ok();
    let forced = req.device_rate.is_some() || req.format.is_some();
    let (range, rate) = choose(&ranges, default.as_ref(), req).ok_or_else(|| {
        if forced {
            Error::Audio(format!(
                "device {name:?} offers no configuration with rate {:?} and format {:?}",
                req.device_rate, req.format
            ))
        } else {
            no_device(&"no configuration with a f32, i16 or i32 sample format")
        }
    })?;
    let format = range.sample_format();
    let frames = ((req.buffer_ms * f64::from(rate) / 1000.0).round() as u32).max(16);
    let fixed = match range.buffer_size() {
        SupportedBufferSize::Range { min, max } => frames.clamp(*min, (*max).max(*min)),
        SupportedBufferSize::Unknown => frames,
    };
    let ring_frames = ((req.ring_ms * f64::from(rate) / 1000.0) as usize).max(4 * fixed as usize);
    let mut config = StreamConfig {
        channels: range.channels(),
        sample_rate: rate,
        buffer_size: BufferSize::Fixed(fixed),
    };
    let attempt = |config: &StreamConfig| {
        let (feeder, player, starts) = ring::channel(ring_frames);
        build(&device, config, format, player, lost.clone()).map(|s| (s, feeder, starts))
    };
    let (stream, feeder, starts) = match attempt(&config) {
        Ok(x) => x,
        Err(e) => {
            // Some backends refuse any fixed size; their default is better than nothing.
            config.buffer_size = BufferSize::Default;
            attempt(&config).map_err(|_| no_device(&e))?
        }
    };
    stream.play().map_err(|e| no_device(&e))?;
    let buffer_frames = stream.buffer_size().unwrap_or(fixed);
    let opened = Opened {
        name,
        rate,
        channels: config.channels,
        format,
        buffer_frames,
    };
    Ok((stream, opened, feeder, starts))
}

fn find(host: &cpal::Host, name: Option<&str>) -> Result<cpal::Device> {
    match name {
        None => host
            .default_output_device()
            .ok_or_else(|| Error::NoAudioDevice(format!("{} reports none", host.id().name()))),
        Some(name) => {
            let devices = host
                .output_devices()
                .map_err(|e| Error::NoAudioDevice(e.to_string()))?;
            for d in devices {
                let desc = d.description().ok();
                if device_name(&d) == name || desc.as_ref().is_some_and(|x| x.name() == name) {
                    return Ok(d);
                }
            }
            Err(Error::DeviceNotFound { name: name.into() })
        }
    }
}

/// The backend's identifier (ALSA: the PCM name), falling back to the display name.
fn device_name(d: &cpal::Device) -> String {
    d.id()
        .map(|id| id.id().to_string())
        .unwrap_or_else(|_| d.to_string())
}

/// Pick a configuration: the model's rate when some usable range has it, otherwise the
/// device's default rate (we resample). Prefer the default channel count and f32. A forced
/// rate or format must be met exactly.
pub fn choose<'a>(
    ranges: &'a [SupportedStreamConfigRange],
    default: Option<&cpal::SupportedStreamConfig>,
    req: &DeviceRequest,
) -> Option<(&'a SupportedStreamConfigRange, u32)> {
    let default_channels = default.map(|d| d.channels());
    let want_rate = req.device_rate.unwrap_or(req.sample_rate);
    let score = |r: &SupportedStreamConfigRange| {
        if req.format.is_some_and(|f| f != r.sample_format()) {
            return None;
        }
        let fmt = FORMATS.iter().position(|f| *f == r.sample_format())?;
        let ch = usize::from(Some(r.channels()) != default_channels);
        Some((ch, fmt))
    };
    let usable = || ranges.iter().filter(|r| score(r).is_some());
    let has = |r: &&SupportedStreamConfigRange, rate: u32| {
        r.min_sample_rate() <= rate && rate <= r.max_sample_rate()
    };
    if let Some(r) = usable()
        .filter(|r| has(r, want_rate))
        .min_by_key(|r| score(r))
    {
        return Some((r, want_rate));
    }
    if req.device_rate.is_some() {
        return None;
    }
    let fallback = default.map_or(48000, |d| d.sample_rate());
    if let Some(r) = usable()
        .filter(|r| has(r, fallback))
        .min_by_key(|r| score(r))
    {
        return Some((r, fallback));
    }
    // No range holds either rate: take the best range at its nearest rate.
    let r = usable().min_by_key(|r| score(r))?;
    Some((r, want_rate.clamp(r.min_sample_rate(), r.max_sample_rate())))
}

fn build(
    device: &cpal::Device,
    config: &StreamConfig,
    format: SampleFormat,
    player: Player,
    lost: mpsc::Sender<()>,
) -> Result<cpal::Stream, cpal::Error> {
    match format {
        SampleFormat::I16 => build_typed::<i16>(device, config, player, lost),
        SampleFormat::I32 => build_typed::<i32>(device, config, player, lost),
        _ => build_typed::<f32>(device, config, player, lost),
    }
}

fn build_typed<S>(
    device: &cpal::Device,
    config: &StreamConfig,
    mut player: Player,
    lost: mpsc::Sender<()>,
) -> Result<cpal::Stream, cpal::Error>
where
    S: SizedSample + FromSample<f32> + Send + 'static,
{
    let channels = usize::from(config.channels);
    let errors = player.shared().clone();
    device.build_output_stream::<S, _, _>(
        *config,
        move |out: &mut [S], info: &cpal::OutputCallbackInfo| {
            let now = monotonic();
            let ts = info.timestamp();
            let delay = ts.playback.duration_since(ts.callback);
            player
                .shared()
                .latency_ns
                .store(delay.as_nanos() as u64, Ordering::Relaxed);
            player.fill(out, channels, now);
        },
        {
            // Not the audio path: this callback may keep state and read the clock. Backends
            // repeat an error until they recover (ALSA's pulse plugin reports EIO on every
            // poll after an xrun), so count episodes: a report after 50 ms of quiet.
            let mut last: Option<Instant> = None;
            let mut burst_start = Instant::now();
            move |err: cpal::Error| {
                if std::env::var_os("STREAM_TTS_AUDIO_DEBUG").is_some() {
                    eprintln!("stream-tts audio: {err}");
                }
                errors.device_error_reports.fetch_add(1, Ordering::Relaxed);
                let now = Instant::now();
                let new_episode = !last.is_some_and(|t| now - t <= ERROR_QUIET);
                last = Some(now);
                if new_episode {
                    burst_start = now;
                } else if now - burst_start >= DEVICE_LOST_AFTER
                    && !errors.device_lost.swap(true, Ordering::AcqRel)
                {
                    // Wake the audio thread, which drops the stream and its spinning worker.
                    let _ = lost.send(());
                }
                if err.kind() == cpal::ErrorKind::Xrun {
                    errors.xruns.fetch_add(1, Ordering::Relaxed);
                } else if new_episode {
                    errors.device_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        },
        None,
    )
}

/// Every output device with what it supports, and whether a stream opens on it; devices that
/// fail to report their configurations are listed empty.
pub fn list() -> Result<Vec<DeviceInfo>> {
    let host = cpal::default_host();
    let default = host.default_output_device().map(|d| device_name(&d));
    let devices = host
        .output_devices()
        .map_err(|e| Error::Audio(format!("cannot list devices: {e}")))?;
    let mut out = vec![];
    for d in devices {
        let name = device_name(&d);
        let description = d
            .description()
            .map(|x| x.name().to_string())
            .unwrap_or_default();
        let ranges: Vec<_> = d
            .supported_output_configs()
            .map(|it| it.collect())
            .unwrap_or_default();
        let mut rates: Vec<u32> = COMMON_RATES
            .iter()
            .copied()
            .filter(|r| {
                ranges
                    .iter()
                    .any(|x| x.min_sample_rate() <= *r && *r <= x.max_sample_rate())
            })
            .collect();
        rates.dedup();
        let mut channels: Vec<u16> = ranges.iter().map(|r| r.channels()).collect();
        channels.sort_unstable();
        channels.dedup();
        let mut formats: Vec<String> = ranges
            .iter()
            .map(|r| r.sample_format().to_string())
            .collect();
        formats.sort();
        formats.dedup();
        let usable = !ranges.is_empty() && !DISCARDS.contains(&name.as_str()) && opens(&d);
        out.push(DeviceInfo {
            usable,
            default: default.as_deref() == Some(name.as_str()),
            name,
            description,
            sample_rates: rates,
            channels,
            formats,
        });
    }
    Ok(out)
}

/// Parse a sample format name as `list_devices` shows it.
pub fn parse_format(name: &str) -> Result<SampleFormat> {
    FORMATS
        .iter()
        .copied()
        .find(|f| f.to_string() == name)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "sample_format must be f32, i16 or i32, got {name:?}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(ch: u16, min: u32, max: u32, f: SampleFormat) -> SupportedStreamConfigRange {
        SupportedStreamConfigRange::new(
            ch,
            min,
            max,
            SupportedBufferSize::Range { min: 32, max: 8192 },
            f,
        )
    }

    fn req(rate: u32) -> DeviceRequest {
        DeviceRequest {
            name: None,
            sample_rate: rate,
            buffer_ms: 10.0,
            ring_ms: 1000.0,
            device_rate: None,
            format: None,
        }
    }

    #[test]
    fn takes_model_rate_and_prefers_f32_and_default_channels() {
        let ranges = [
            range(1, 8000, 96000, SampleFormat::F32),
            range(2, 8000, 96000, SampleFormat::I16),
            range(2, 8000, 96000, SampleFormat::F32),
            range(2, 8000, 96000, SampleFormat::U8),
        ];
        let default = ranges[1].with_sample_rate(48000);
        let (r, rate) = choose(&ranges, Some(&default), &req(22050)).unwrap();
        assert_eq!(
            (r.channels(), r.sample_format(), rate),
            (2, SampleFormat::F32, 22050)
        );
    }

    #[test]
    fn falls_back_to_the_default_rate_to_resample() {
        let ranges = [range(2, 44100, 48000, SampleFormat::I32)];
        let default = ranges[0].with_sample_rate(48000);
        let (r, rate) = choose(&ranges, Some(&default), &req(22050)).unwrap();
        assert_eq!((r.sample_format(), rate), (SampleFormat::I32, 48000));
    }

    #[test]
    fn forced_rate_and_format_must_exist() {
        let ranges = [
            range(2, 8000, 48000, SampleFormat::F32),
            range(2, 8000, 48000, SampleFormat::I16),
        ];
        let mut q = req(22050);
        q.device_rate = Some(44100);
        q.format = Some(SampleFormat::I16);
        let (r, rate) = choose(&ranges, None, &q).unwrap();
        assert_eq!((r.sample_format(), rate), (SampleFormat::I16, 44100));
        q.format = Some(SampleFormat::I32);
        assert!(choose(&ranges, None, &q).is_none());
        q.format = None;
        q.device_rate = Some(96000);
        assert!(choose(&ranges, None, &q).is_none());
    }

    #[test]
    fn no_usable_format_is_none() {
        let ranges = [range(2, 8000, 48000, SampleFormat::U8)];
        assert!(choose(&ranges, None, &req(22050)).is_none());
    }
}
