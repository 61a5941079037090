//! `AudioSink`, `WavSink`, `NullSink`, `monotonic`, `list_devices`.
//!
//! The classes are frozen and `Sync`: the core sink does its own locking, so one thread can
//! push while another flushes or reads start times. Every wait runs with the GIL released and
//! comes back for `check_signals` about every 15 ms, so Ctrl-C interrupts a blocked push.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::audio::{self, DeviceRequest, Sink};

/// Keep a waiting push/drain responsive to Ctrl-C: briefly take the GIL and check signals.
fn check_signals() -> PyResult<()> {
    Python::attach(|py| py.check_signals())
}

#[pyfunction]
fn monotonic() -> f64 {
    audio::monotonic()
}

#[pyfunction]
fn list_devices(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let devices = py.detach(audio::list_devices)?;
    let out = PyList::empty(py);
    for d in devices {
        let item = PyDict::new(py);
        item.set_item("name", d.name)?;
        item.set_item("description", d.description)?;
        item.set_item("default", d.default)?;
        item.set_item("sample_rates", d.sample_rates)?;
        item.set_item("channels", d.channels)?;
        item.set_item("formats", d.formats)?;
        item.set_item("usable", d.usable)?;
        out.append(item)?;
    }
    Ok(out)
}

/// Methods shared by every sink; see `_core.pyi`.
#[pyclass(subclass, frozen, name = "_SinkBase", module = "stream_tts._core")]
pub struct SinkBase {
    sink: Arc<Sink>,
}

/// Open sinks, closed at interpreter exit: objects still alive then are never dropped, and a
/// WAV file needs its header completed.
static LIVE: Mutex<Vec<Weak<Sink>>> = Mutex::new(Vec::new());

impl SinkBase {
    fn new(sink: Sink) -> Self {
        let sink = Arc::new(sink);
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|w| w.strong_count() > 0);
            live.push(Arc::downgrade(&sink));
        }
        Self { sink }
    }
}

#[pyfunction]
fn _close_all_sinks(py: Python<'_>) {
    let live: Vec<_> = LIVE
        .lock()
        .map(|mut l| std::mem::take(&mut *l))
        .unwrap_or_default();
    py.detach(|| {
        for sink in live.iter().filter_map(Weak::upgrade) {
            let _ = sink.close();
        }
    });
}

/// A C-contiguous buffer of f32 or i16, held (and so kept alive) while we read it.
enum Samples {
    F32(PyBuffer<f32>),
    I16(PyBuffer<i16>),
}

impl Samples {
    fn get(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let s = if let Ok(b) = PyBuffer::<f32>::get(obj) {
            Samples::F32(b)
        } else if let Ok(b) = PyBuffer::<i16>::get(obj) {
            Samples::I16(b)
        } else {
            return Err(PyTypeError::new_err(
                "samples must be a numpy array (or buffer) of float32 or int16",
            ));
        };
        let contiguous = match &s {
            Samples::F32(b) => b.is_c_contiguous(),
            Samples::I16(b) => b.is_c_contiguous(),
        };
        if !contiguous {
            return Err(PyValueError::new_err(
                "samples must be contiguous (use numpy.ascontiguousarray)",
            ));
        }
        Ok(s)
    }
}

/// Read a held buffer in place, without the GIL.
///
/// SAFETY (of the slices): the buffer is C-contiguous, aligned and typed (checked by
/// `PyBuffer::get`) and stays exported until `Samples` drops, after this returns. Python code
/// writing the array concurrently would race, as with any nogil numpy consumer.
fn with_slice<R>(samples: &Samples, f: impl FnOnce(Slice<'_>) -> R) -> R {
    match samples {
        Samples::F32(b) => f(Slice::F32(unsafe {
            std::slice::from_raw_parts(b.buf_ptr() as *const f32, b.item_count())
        })),
        Samples::I16(b) => f(Slice::I16(unsafe {
            std::slice::from_raw_parts(b.buf_ptr() as *const i16, b.item_count())
        })),
    }
}

enum Slice<'a> {
    F32(&'a [f32]),
    I16(&'a [i16]),
}

#[pymethods]
impl SinkBase {
    #[getter]
    fn sample_rate(&self) -> u32 {
        self.sink.sample_rate()
    }

    #[pyo3(signature = (samples, *, utterance = None))]
    fn push(
        &self,
        py: Python<'_>,
        samples: &Bound<'_, PyAny>,
        utterance: Option<u64>,
    ) -> PyResult<()> {
        let held = Samples::get(samples)?;
        let sink = &self.sink;
        with_slice(&held, |slice| {
            py.detach(|| {
                let mut poll = check_signals;
                match slice {
                    Slice::F32(s) => sink.push(s, utterance, &mut poll),
                    Slice::I16(s) => sink.push(s, utterance, &mut poll),
                }
                .map(|_| ())
            })
        })
    }

    fn flush(&self) {
        self.sink.flush();
    }

    #[pyo3(signature = (timeout = None))]
    fn drain(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let timeout = match timeout {
            Some(t) if !(t >= 0.0 && t.is_finite()) => {
                return Err(PyValueError::new_err(
                    "timeout must be a non-negative number",
                ))
            }
            t => t.map(Duration::from_secs_f64),
        };
        let sink = &self.sink;
        py.detach(|| sink.drain(timeout, &mut check_signals))
    }

    fn utterance_started(&self, utterance: u64) -> Option<f64> {
        self.sink.utterance_started(utterance)
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in self.sink.stats() {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let sink = &self.sink;
        py.detach(|| sink.close())?;
        Ok(())
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Leaving the block normally plays what is queued first; on an exception, stop at once.
    #[pyo3(signature = (*args))]
    fn __exit__(&self, py: Python<'_>, args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
        let clean = args.get_item(0).map(|e| e.is_none()).unwrap_or(true);
        if clean {
            let sink = &self.sink;
            py.detach(|| sink.drain(None, &mut check_signals))?;
        }
        self.close(py)
    }
}

#[pyclass(extends = SinkBase, frozen, name = "AudioSink", module = "stream_tts._core")]
pub struct AudioSink {
    device_name: String,
    device_rate: u32,
    buffer_frames: u32,
}

#[pymethods]
impl AudioSink {
    #[new]
    #[pyo3(signature = (
        sample_rate, *, device = None, buffer_ms = 10.0, ring_ms = 2000.0, device_rate = None,
        sample_format = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        sample_rate: u32,
        device: Option<String>,
        buffer_ms: f64,
        ring_ms: f64,
        device_rate: Option<u32>,
        sample_format: Option<&str>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let req = DeviceRequest {
            name: device,
            sample_rate,
            buffer_ms,
            ring_ms,
            device_rate,
            format: sample_format.map(audio::device::parse_format).transpose()?,
        };
        let (sink, opened) = py.detach(|| audio::open_device(req))?;
        let me = AudioSink {
            device_name: opened.name,
            device_rate: opened.rate,
            buffer_frames: opened.buffer_frames,
        };
        Ok(PyClassInitializer::from(SinkBase::new(sink)).add_subclass(me))
    }

    #[getter]
    fn device_name(&self) -> &str {
        &self.device_name
    }

    #[getter]
    fn device_rate(&self) -> u32 {
        self.device_rate
    }

    #[getter]
    fn buffer_frames(&self) -> u32 {
        self.buffer_frames
    }
}

#[pyclass(extends = SinkBase, frozen, name = "WavSink", module = "stream_tts._core")]
pub struct WavSink;

#[pymethods]
impl WavSink {
    #[new]
    fn new(
        py: Python<'_>,
        path: std::path::PathBuf,
        sample_rate: u32,
    ) -> PyResult<PyClassInitializer<Self>> {
        let path = path.to_string_lossy().into_owned();
        let sink = py.detach(|| audio::wav::open(&path, sample_rate))?;
        Ok(PyClassInitializer::from(SinkBase::new(sink)).add_subclass(WavSink))
    }
}

#[pyclass(extends = SinkBase, frozen, name = "NullSink", module = "stream_tts._core")]
pub struct NullSink;

#[pymethods]
impl NullSink {
    #[new]
    #[pyo3(signature = (sample_rate, *, realtime = false))]
    fn new(py: Python<'_>, sample_rate: u32, realtime: bool) -> PyResult<PyClassInitializer<Self>> {
        let sink = py.detach(|| audio::null::open(sample_rate, realtime, 2000.0))?;
        Ok(PyClassInitializer::from(SinkBase::new(sink)).add_subclass(NullSink))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(monotonic, m)?)?;
    m.add_function(wrap_pyfunction!(list_devices, m)?)?;
    m.add_class::<SinkBase>()?;
    m.add_class::<AudioSink>()?;
    m.add_class::<WavSink>()?;
    m.add_class::<NullSink>()?;
    let close_all = wrap_pyfunction!(_close_all_sinks, m)?;
    m.py()
        .import("atexit")?
        .call_method1("register", (close_all,))?;
    Ok(())
}
