//! JSON backends behind one small read-only view, so the session logic is written once.
//!
//! simd-json (default) parses each line into a reused tape, with no value tree and no
//! per-line allocation once the buffers have grown; serde_json builds a `Value` and is kept
//! for the benchmark comparison.

use simd_json::prelude::*;
use simd_json::{Buffers, ErrorType, Tape};

use super::session::{Handled, Session};
use super::Event;

/// Which JSON parser reads stream-json lines.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum JsonBackend {
    /// simd-json on a reused tape (the faster one; see the ingest benchmark).
    #[default]
    SimdJson,
    /// serde_json into a `serde_json::Value`.
    SerdeJson,
}

/// Read access to one parsed JSON value, all the session needs.
pub(crate) trait View<'a>: Copy {
    fn get(self, key: &str) -> Option<Self>;
    fn str(self) -> Option<&'a str>;
    fn u64(self) -> Option<u64>;
    fn items(self) -> Option<impl Iterator<Item = Self>>;

    fn get_str(self, key: &str) -> Option<&'a str> {
        self.get(key).and_then(View::str)
    }
}

type TapeValue<'t, 'i> = simd_json::tape::Value<'t, 'i>;

impl<'t, 'i: 't> View<'t> for TapeValue<'t, 'i> {
    #[inline]
    fn get(self, key: &str) -> Option<Self> {
        TapeValue::get(&self, key)
    }
    #[inline]
    fn str(self) -> Option<&'t str> {
        ValueIntoString::into_string(self)
    }
    #[inline]
    fn u64(self) -> Option<u64> {
        ValueAsScalar::as_u64(&self)
    }
    #[inline]
    fn items(self) -> Option<impl Iterator<Item = Self>> {
        Some(self.as_array()?.iter())
    }
}

impl<'a> View<'a> for &'a serde_json::Value {
    #[inline]
    fn get(self, key: &str) -> Option<Self> {
        self.as_object()?.get(key)
    }
    #[inline]
    fn str(self) -> Option<&'a str> {
        self.as_str()
    }
    #[inline]
    fn u64(self) -> Option<u64> {
        self.as_u64()
    }
    #[inline]
    fn items(self) -> Option<impl Iterator<Item = Self>> {
        Some(self.as_array()?.iter())
    }
}

pub(crate) enum JsonOutcome {
    Parsed(Handled),
    Malformed(String),
    InvalidUtf8,
    TooDeep,
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

    pub(crate) fn parse(
        &mut self,
        line: &[u8],
        session: &mut Session,
        line_no: u64,
        out: &mut Vec<Event>,
    ) -> JsonOutcome {
        match self.backend {
            JsonBackend::SimdJson => self.parse_simd(line, session, line_no, out),
            JsonBackend::SerdeJson => parse_serde(line, self.max_depth, session, line_no, out),
        }
    }

    fn parse_simd(
        &mut self,
        line: &[u8],
        session: &mut Session,
        line_no: u64,
        out: &mut Vec<Event>,
    ) -> JsonOutcome {
        self.buf.clear();
        self.buf.reserve(line.len() + simd_json::INPUT_PADDING);
        self.buf.extend_from_slice(line);
        self.buf.resize(line.len() + simd_json::INPUT_PADDING, b' ');
        let mut tape = std::mem::replace(&mut self.tape, Tape(Vec::new())).reset();
        let outcome = match simd_json::fill_tape_padded(
            &mut self.buf,
            line.len(),
            &mut self.buffers,
            &mut tape,
        ) {
            Ok(()) => JsonOutcome::Parsed(session.handle(tape.as_value(), line_no, out)),
            Err(e) => match e.error() {
                ErrorType::InvalidUtf8 => JsonOutcome::InvalidUtf8,
                ErrorType::DepthLimitExceeded => JsonOutcome::TooDeep,
                _ => JsonOutcome::Malformed(e.to_string()),
            },
        };
        self.tape = tape.reset();
        if line.len() > KEEP_BYTES {
            // One huge line must not pin its buffers for the rest of the session.
            *self = Self::new(self.backend, self.max_depth);
        }
        outcome
    }
}

/// Buffers grown past this by a single line are released after it.
pub(crate) const KEEP_BYTES: usize = 1 << 20;

fn parse_serde(
    line: &[u8],
    max_depth: usize,
    session: &mut Session,
    line_no: u64,
    out: &mut Vec<Event>,
) -> JsonOutcome {
    let Ok(text) = std::str::from_utf8(line) else {
        return JsonOutcome::InvalidUtf8;
    };
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) if depth(&value) > max_depth => JsonOutcome::TooDeep,
        Ok(value) => JsonOutcome::Parsed(session.handle(&value, line_no, out)),
        // serde_json has a fixed recursion limit of its own (128).
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => JsonOutcome::TooDeep,
        Err(e) => JsonOutcome::Malformed(e.to_string()),
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
