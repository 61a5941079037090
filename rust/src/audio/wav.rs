//! A sink that writes a WAV file (16-bit PCM mono at the pushed rate): `--output FILE.wav`.

use std::fs::File;
use std::io::BufWriter;
use std::sync::{Arc, Mutex};

use super::null::check_rate;
use super::ring;
use super::sink::{Driver, Sink};
use super::worker::{Pace, Worker};
use crate::error::{Error, Result};

struct WavDriver {
    worker: Worker,
    rate: u32,
}

impl Driver for WavDriver {
    fn stop(&mut self) -> Result<()> {
        self.worker.stop()
    }
    fn buffer_frames(&self) -> u32 {
        0
    }
    fn rate(&self) -> u32 {
        self.rate
    }
    fn finish_on_close(&self) -> bool {
        true
    }
}

type Writer = hound::WavWriter<BufWriter<File>>;

/// Create `path` now (so a bad path fails here). Samples are written as they are pushed, and
/// the header is brought up to date after every block, so the file is a valid WAV of what was
/// written so far however the process ends (Ctrl-C, a kill, an engine error). The first failed
/// write (disk full, ...) is kept in the ring's shared state: pushes fail with it from then on.
pub fn open(path: &str, sample_rate: u32) -> Result<Sink> {
    check_rate(sample_rate)?;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let writer = hound::WavWriter::create(path, spec).map_err(|e| wav_error(path, e))?;
    // Shared between the write and finish steps of the thread; never contended.
    let writer: Arc<Mutex<Option<Writer>>> = Arc::new(Mutex::new(Some(writer)));
    let (feeder, player, starts) = ring::channel(sample_rate as usize * 2);
    let shared = player.shared().clone();
    let (w1, w2) = (writer.clone(), writer);
    let (p1, p2) = (path.to_string(), path.to_string());
    let write = move |block: &[i16]| -> Result<()> {
        if shared.write_error.get().is_some() {
            return Ok(()); // reported once; the rest is dropped while the producer stops
        }
        let mut g = w1
            .lock()
            .map_err(|_| Error::Audio("WAV writer poisoned".into()))?;
        let Some(w) = g.as_mut() else {
            return Ok(());
        };
        let mut ints = w.get_i16_writer(block.len() as u32);
        for s in block {
            ints.write_sample(*s);
        }
        let written = ints.flush().and_then(|()| w.flush());
        written.map_err(|e| {
            let e = wav_error(&p1, e);
            let kind = match &e {
                Error::Io(io) => io.kind(),
                _ => std::io::ErrorKind::Other,
            };
            let _ = shared.write_error.set((kind, e.to_string()));
            e
        })
    };
    let finish = move || -> Result<()> {
        let w = w2.lock().ok().and_then(|mut g| g.take());
        match w {
            Some(w) => w.finalize().map_err(|e| wav_error(&p2, e)),
            None => Ok(()),
        }
    };
    let worker = Worker::spawn::<i16, _, _>(
        "stream-tts-wav",
        player,
        Pace::AsFast { block: 4096 },
        write,
        finish,
    )?;
    let driver = WavDriver {
        worker,
        rate: sample_rate,
    };
    Sink::new(sample_rate, (feeder, starts), Box::new(driver))
}

fn wav_error(path: &str, e: hound::Error) -> Error {
    match e {
        hound::Error::IoError(io) => {
            Error::Io(std::io::Error::new(io.kind(), format!("{path}: {io}")))
        }
        other => Error::Audio(format!("{path}: {other}")),
    }
}
