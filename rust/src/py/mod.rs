//! PyO3 bindings: a thin layer over the Rust core, exposed as `stream_tts._core`.
//! Each area registers its own classes; long work runs with the GIL released (`py.detach`).

use pyo3::prelude::*;

mod audio;
mod buffer;
mod errors;
mod ingest;
mod pipeline;
mod text;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    ingest::register(m)?;
    text::register(m)?;
    pipeline::register(m)?;
    audio::register(m)?;
    Ok(())
}
