//! Rate conversion on the producer side (rubato), for devices that cannot run at the model's
//! rate. The callback never resamples.
//!
//! Each push is resampled whole (the chunk size shrinks for the last piece), so nothing waits
//! for more input but the filter's own delay; `finish` pushes that tail out at the end of a
//! stream (an utterance start or `drain`).

use rubato::audioadapter_buffers::direct::SequentialSlice;
use rubato::{Async, FixedAsync, Indexing, Resampler, SincInterpolationParameters, WindowFunction};

use super::ring::InSample;
use crate::error::{Error, Result};

/// Largest input chunk; also bounds the scratch buffers.
const CHUNK: usize = 512;
/// Sinc length: 128 taps keep speech clean (cutoff chosen by rubato) at a 1.5 ms delay.
const SINC_LEN: usize = 128;

pub struct Resample {
    inner: Async<f32>,
    ratio: f64,
    input: Vec<f32>,
    output: Vec<f32>,
    /// Output frames still to drop: the filter delay at the start of a stream.
    trim: usize,
    /// Input and output frames since the stream started.
    frames_in: u64,
    frames_out: u64,
}

impl Resample {
    pub fn new(from: u32, to: u32) -> Result<Self> {
        let ratio = f64::from(to) / f64::from(from);
        let params = SincInterpolationParameters::new(SINC_LEN, WindowFunction::BlackmanHarris2);
        let inner = Async::<f32>::new_sinc(ratio, 1.0, &params, CHUNK, 1, FixedAsync::Input)
            .map_err(|e| Error::Audio(format!("cannot resample {from} Hz to {to} Hz: {e}")))?;
        let out_max = inner.output_frames_max();
        let trim = inner.output_delay();
        Ok(Self {
            inner,
            ratio,
            input: vec![0.0; CHUNK],
            output: vec![0.0; out_max],
            trim,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// True when input went in since the last `finish`/`reset`.
    pub fn active(&self) -> bool {
        self.frames_in > 0
    }

    /// Resample `src`, appending the output to `out`.
    pub fn process<T: InSample>(&mut self, src: &[T], out: &mut Vec<f32>) -> Result<()> {
        for piece in src.chunks(CHUNK) {
            for (d, s) in self.input.iter_mut().zip(piece) {
                *d = s.to_f32();
            }
            self.set_chunk(piece.len())?;
            self.run(None, out)?;
            self.frames_in += piece.len() as u64;
        }
        Ok(())
    }

    /// The end of a stream: append what is still inside the filter, then start afresh.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<()> {
        if self.frames_in == 0 {
            return Ok(());
        }
        let want = (self.frames_in as f64 * self.ratio).round() as u64;
        self.set_chunk(CHUNK)?;
        let start = out.len();
        let mut guard = 0;
        while self.frames_out < want && guard < 64 {
            self.run(Some(0), out)?;
            guard += 1;
        }
        // Drop the zeros pumped past the real signal.
        let extra = (self.frames_out - want.min(self.frames_out)) as usize;
        out.truncate(out.len().saturating_sub(extra).max(start));
        self.reset();
        Ok(())
    }

    /// Forget the stream (after a flush).
    pub fn reset(&mut self) {
        self.inner.reset();
        self.trim = self.inner.output_delay();
        self.frames_in = 0;
        self.frames_out = 0;
    }

    fn set_chunk(&mut self, n: usize) -> Result<()> {
        if self.inner.input_frames_next() != n {
            let r = self
                .inner
                .as_resizable()
                .ok_or_else(|| audio("not resizable"))?;
            r.set_chunk_size(n).map_err(|e| audio(&e.to_string()))?;
        }
        Ok(())
    }

    fn run(&mut self, partial: Option<usize>, out: &mut Vec<f32>) -> Result<()> {
        let n_in = self.inner.input_frames_next();
        let n_out = self.output.len();
        let input =
            SequentialSlice::new(&self.input[..], 1, n_in).map_err(|e| audio(&e.to_string()))?;
        let mut output = SequentialSlice::new_mut(&mut self.output[..], 1, n_out)
            .map_err(|e| audio(&e.to_string()))?;
        let indexing = Indexing {
            partial_len: partial,
            ..Indexing::default()
        };
        let (_, produced) = self
            .inner
            .process_into_buffer(&input, &mut output, Some(&indexing))
            .map_err(|e| audio(&e.to_string()))?;
        let skip = self.trim.min(produced);
        self.trim -= skip;
        out.extend_from_slice(&self.output[skip..produced]);
        self.frames_out += (produced - skip) as u64;
        Ok(())
    }
}

fn audio(msg: &str) -> Error {
    Error::Audio(format!("resampler: {msg}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin())
            .collect()
    }

    /// Resample in uneven pushes, as a streaming TTS would.
    fn stream(r: &mut Resample, src: &[f32]) -> Vec<f32> {
        let mut out = vec![];
        let mut rest = src;
        for n in [1usize, 37, 700, 1500, 3].iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let k = (*n).min(rest.len());
            r.process(&rest[..k], &mut out).unwrap();
            rest = &rest[k..];
        }
        r.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn length_and_tone_survive_22050_to_48000() {
        let mut r = Resample::new(22050, 48000).unwrap();
        let src = sine(22050, 440.0, 22050);
        let out = stream(&mut r, &src);
        assert_eq!(out.len(), 48000);
        // Same level and pitch: RMS of a 0.5 sine, 880 zero crossings a second.
        let mid = &out[2400..45600];
        let rms = (mid.iter().map(|x| x * x).sum::<f32>() / mid.len() as f32).sqrt();
        assert!((rms - 0.5 / 2f32.sqrt()).abs() < 0.005, "rms {rms}");
        let crossings = mid
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        let want = 880.0 * mid.len() as f32 / 48000.0;
        assert!(
            (crossings as f32 - want).abs() <= 2.0,
            "{crossings} vs {want}"
        );
        // Sample by sample within a fraction of a sample's shift (the filter delay is
        // trimmed to the nearest frame).
        let ideal = sine(48000, 440.0, 48000);
        let err = mid
            .iter()
            .zip(&ideal[2400..45600])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 0.03, "max error {err}");
    }

    #[test]
    fn each_stream_starts_on_time() {
        // An impulse at the start of the second stream comes out at its start: the delay is
        // trimmed again after finish().
        let mut r = Resample::new(16000, 44100).unwrap();
        let _ = stream(&mut r, &sine(16000, 300.0, 5000));
        let mut click = vec![0.0f32; 4000];
        click[0] = 1.0;
        let out = stream(&mut r, &click);
        let peak = out
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .unwrap()
            .0;
        assert!(peak <= 2, "impulse at {peak}");
        assert_eq!(out.len(), 11025);
    }

    #[test]
    fn int16_input() {
        let mut r = Resample::new(24000, 48000).unwrap();
        let mut out = vec![];
        r.process(&[16384i16; 4800], &mut out).unwrap();
        r.finish(&mut out).unwrap();
        assert_eq!(out.len(), 9600);
        assert!((out[5000] - 0.5).abs() < 0.01, "{}", out[5000]);
    }
}
