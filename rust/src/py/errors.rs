//! The Python exception hierarchy, one class per `Error` variant under `StreamTtsError`.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;

use crate::error::Error;

create_exception!(
    _core,
    StreamTtsError,
    PyException,
    "Base class of every stream-tts error."
);
create_exception!(
    _core,
    AudioError,
    StreamTtsError,
    "The audio device or backend failed."
);
create_exception!(
    _core,
    NoAudioDeviceError,
    AudioError,
    "No audio output device exists (no sound card, no sound server)."
);
create_exception!(
    _core,
    DeviceNotFoundError,
    AudioError,
    "No output device has the requested name."
);

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        let msg = e.to_string();
        match e {
            Error::InvalidArgument(_) => PyValueError::new_err(msg),
            Error::NoAudioDevice(_) => NoAudioDeviceError::new_err(msg),
            Error::DeviceNotFound { .. } => DeviceNotFoundError::new_err(msg),
            Error::Audio(_) => AudioError::new_err(msg),
            Error::Io(io) => PyErr::from(io),
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("StreamTtsError", py.get_type::<StreamTtsError>())?;
    m.add("AudioError", py.get_type::<AudioError>())?;
    m.add("NoAudioDeviceError", py.get_type::<NoAudioDeviceError>())?;
    m.add("DeviceNotFoundError", py.get_type::<DeviceNotFoundError>())?;
    Ok(())
}
