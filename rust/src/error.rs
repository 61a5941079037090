//! One error enum for the whole core; `py::errors` maps each variant to a Python exception.
//! Messages state what happened; what to do about it is the front end's to say (the CLI
//! names its own options).

use thiserror::Error as ThisError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, ThisError)]
pub enum Error {
    /// A bad argument from the caller (unknown input format, non-positive rate, ...).
    #[error("{0}")]
    InvalidArgument(String),
    /// No output device exists at all (no sound card, no server).
    #[error("no audio output device is available ({0})")]
    NoAudioDevice(String),
    /// A device was named but no device of that name exists.
    #[error("no audio output device named {name:?}")]
    DeviceNotFound { name: String },
    /// The audio backend failed (stream build, play, device lost).
    #[error("audio device error: {0}")]
    Audio(String),
    /// File I/O (WAV sink).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
