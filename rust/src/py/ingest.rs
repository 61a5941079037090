//! `StreamParser` and `Event`: the ingest parser for Python, one FFI crossing per chunk.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyDict, PyList, PyString, PyTuple};

use super::buffer::with_bytes;
use crate::error::Error;
use crate::ingest::{Event, EventKind, InputFormat, Parser, ParserOptions};

/// One thing the parser found that matters for speech (immutable).
#[pyclass(frozen, name = "Event", module = "stream_tts._core")]
pub(crate) struct PyEvent {
    kind: EventKind,
    #[pyo3(get)]
    message_id: String,
    #[pyo3(get)]
    block: u32,
    #[pyo3(get)]
    text: String,
    #[pyo3(get)]
    line: u64,
}

impl From<Event> for PyEvent {
    fn from(e: Event) -> Self {
        Self {
            kind: e.kind,
            message_id: e.message_id,
            block: e.block,
            text: e.text,
            line: e.line,
        }
    }
}

#[pymethods]
impl PyEvent {
    #[getter]
    fn kind<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        // Interned: read once per event on the hot path.
        match self.kind {
            EventKind::Text => intern!(py, "text"),
            EventKind::BlockEnd => intern!(py, "block_end"),
            EventKind::MessageEnd => intern!(py, "message_end"),
            EventKind::Tool => intern!(py, "tool"),
        }
        .clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "Event(kind={:?}, message_id={:?}, block={}, text={:?}, line={})",
            self.kind.as_str(),
            self.message_id,
            self.block,
            self.text,
            self.line
        )
    }
}

#[pyclass(name = "StreamParser", module = "stream_tts._core")]
pub(crate) struct PyStreamParser {
    parser: Parser,
    out: Vec<Event>,
}

fn events<'py>(py: Python<'py>, out: &mut Vec<Event>) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, out.drain(..).map(PyEvent::from))
}

#[pymethods]
impl PyStreamParser {
    #[new]
    #[pyo3(signature = (input = "auto", *, speak_tools = false, speak_subagents = false, max_line_bytes = 16777216, max_depth = 128))]
    fn new(
        input: &str,
        speak_tools: bool,
        speak_subagents: bool,
        max_line_bytes: usize,
        max_depth: usize,
    ) -> PyResult<Self> {
        let opts = parser_options(
            input,
            speak_tools,
            speak_subagents,
            max_line_bytes,
            max_depth,
        )?;
        Ok(Self {
            parser: Parser::new(opts),
            out: Vec::new(),
        })
    }

    /// Feed a chunk split anywhere (even inside a UTF-8 character); events of complete lines.
    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let (parser, out) = (&mut self.parser, &mut self.out);
        with_bytes(py, data, "StreamParser.feed", |bytes| {
            parser.feed(bytes, out)
        })?;
        events(py, &mut self.out)
    }

    /// End of input: parse a last unterminated line and close open messages.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let Self { parser, out } = self;
        py.detach(|| parser.finish(out));
        events(py, out)
    }

    /// lines, events, malformed_json, invalid_utf8, too_long, too_deep, unknown_type, ...
    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.parser.counters().into_py_dict(py)
    }

    /// New one-per-kind warning messages since the last call (for the CLI to print).
    fn take_warnings(&mut self) -> Vec<String> {
        self.parser.take_warnings()
    }
}

/// Checked parser options from the Python keyword arguments (shared with `TextPipeline`).
pub(crate) fn parser_options(
    input: &str,
    speak_tools: bool,
    speak_subagents: bool,
    max_line_bytes: usize,
    max_depth: usize,
) -> PyResult<ParserOptions> {
    let input: InputFormat = input.parse()?;
    if max_line_bytes == 0 || max_depth == 0 {
        return Err(Error::InvalidArgument(
            "max_line_bytes and max_depth must be positive".to_owned(),
        )
        .into());
    }
    Ok(ParserOptions {
        input,
        speak_tools,
        speak_subagents,
        max_line_bytes,
        max_depth,
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // The stub's type aliases exist at runtime too, as the Union of Literals mypy sees them
    // as, so annotations evaluated at runtime work and stubtest agrees.
    let py = m.py();
    m.add(
        "InputFormat",
        literal_union(py, &["auto", "stream-json", "text"])?,
    )?;
    let kinds = [
        EventKind::Text,
        EventKind::BlockEnd,
        EventKind::MessageEnd,
        EventKind::Tool,
    ];
    m.add(
        "EventKind",
        literal_union(py, &kinds.map(EventKind::as_str))?,
    )?;
    m.add_class::<PyEvent>()?;
    m.add_class::<PyStreamParser>()?;
    Ok(())
}

/// `Union[Literal[a], Literal[b], ...]`.
fn literal_union<'py>(py: Python<'py>, names: &[&str]) -> PyResult<Bound<'py, PyAny>> {
    let typing = py.import("typing")?;
    let literal = typing.getattr("Literal")?;
    let parts = names
        .iter()
        .map(|n| literal.get_item(*n))
        .collect::<PyResult<Vec<_>>>()?;
    typing.getattr("Union")?.get_item(PyTuple::new(py, parts)?)
}
