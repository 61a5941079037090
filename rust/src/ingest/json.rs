//! The JSON decoder: one stream-json line in, its parsed value out, with the buffers kept
//! from line to line.
//!
//! simd-json (default) parses each line into a reused tape, with no value tree and no
//! per-line allocation once the buffers have grown; serde_json builds a `Value` and is kept
//! for the benchmark comparison. Both values are read through [`View`](super::view::View).

use simd_json::{Buffers, ErrorType, Tape};

/// Which JSON parser reads stream-json lines.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum JsonBackend {
    /// simd-json on a reused tape (the faster one; see the ingest benchmark).
    #[default]
    SimdJson,
    /// serde_json into a `serde_json::Value`.
    SerdeJson,
}

/// A parsed line: its value on simd-json's tape (borrowing the decoder's copy of the line),
/// or as a serde_json `Value`.
pub(crate) enum Parsed<'a> {
    Tape(Tape<'a>),
    Serde(serde_json::Value),
}

/// Why a line did not parse.
pub(crate) enum JsonError {
    Malformed(String),
    InvalidUtf8,
    TooDeep,
}

/// What the decoder keeps of a parsed line for the next: the tape's allocation.
#[derive(Default)]
pub(crate) struct Spare(Option<Tape<'static>>);

impl Parsed<'_> {
    /// Done with the value: what the decoder can reuse (see [`JsonLine::reuse`]).
    pub(crate) fn into_spare(self) -> Spare {
        match self {
            Parsed::Tape(tape) => Spare(Some(tape.reset())),
            Parsed::Serde(_) => Spare(None),
        }
    }
}

/// Reused per-line parse state.
pub(crate) struct JsonLine {
    backend: JsonBackend,
    max_depth: usize,
    /// The line copied with simd-json's padding after it (parsing unescapes in place).
    pub(super) buf: Vec<u8>,
    buffers: Buffers,
    /// Empty between lines; only its allocation is kept.
    tape: Tape<'static>,
}

impl JsonLine {
    pub(crate) fn new(backend: JsonBackend, max_depth: usize) -> Self {
        Self {
            backend,
            max_depth,
            buf: Vec::new(),
            buffers: Buffers::with_max_depth(0, max_depth),
            tape: Tape(Vec::new()),
        }
    }

    /// Parses one line (without its line break). Hand the value back through
    /// [`Parsed::into_spare`] and [`JsonLine::reuse`] once read.
    pub(crate) fn parse(&mut self, line: &[u8]) -> Result<Parsed<'_>, JsonError> {
        match self.backend {
            JsonBackend::SimdJson => self.parse_simd(line),
            JsonBackend::SerdeJson => parse_serde(line, self.max_depth).map(Parsed::Serde),
        }
    }

    /// Takes back what a parsed line leaves (see [`JsonLine::parse`]).
    pub(crate) fn reuse(&mut self, spare: Spare) {
        if let Some(tape) = spare.0 {
            self.tape = tape;
        }
        if self.buf.len() > KEEP_BYTES + simd_json::INPUT_PADDING {
            // One huge line must not pin its buffers for the rest of the session.
            *self = Self::new(self.backend, self.max_depth);
        }
    }

    fn parse_simd(&mut self, line: &[u8]) -> Result<Parsed<'_>, JsonError> {
        self.buf.clear();
        self.buf.reserve(line.len() + simd_json::INPUT_PADDING);
        self.buf.extend_from_slice(line);
        self.buf.resize(line.len() + simd_json::INPUT_PADDING, b' ');
        let mut tape = std::mem::replace(&mut self.tape, Tape(Vec::new())).reset();
        match simd_json::fill_tape_padded(&mut self.buf, line.len(), &mut self.buffers, &mut tape) {
            Ok(()) => Ok(Parsed::Tape(tape)),
            Err(e) => {
                self.tape = tape.reset();
                Err(match e.error() {
                    ErrorType::InvalidUtf8 => JsonError::InvalidUtf8,
                    ErrorType::DepthLimitExceeded => JsonError::TooDeep,
                    _ => JsonError::Malformed(e.to_string()),
                })
            }
        }
    }
}

/// Buffers grown past this by a single line are released after it.
pub(crate) const KEEP_BYTES: usize = 1 << 20;

fn parse_serde(line: &[u8], max_depth: usize) -> Result<serde_json::Value, JsonError> {
    let Ok(text) = std::str::from_utf8(line) else {
        return Err(JsonError::InvalidUtf8);
    };
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) if depth(&value) > max_depth => Err(JsonError::TooDeep),
        Ok(value) => Ok(value),
        // serde_json has a fixed recursion limit of its own (128).
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => Err(JsonError::TooDeep),
        Err(e) => Err(JsonError::Malformed(e.to_string())),
    }
}

/// Nesting depth of containers (a scalar is 0, `{}` is 1).
fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}
