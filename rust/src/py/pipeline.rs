//! `TextPipeline`, `Sentence` and `Guess`: the whole text stage for Python, one FFI crossing
//! per chunk.

use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyDict, PyList};

use super::buffer::with_bytes;
use super::ingest::parser_options;
use crate::pipeline::{Sentence, SentenceKind, TextPipeline};
use crate::text::shaper::ShaperOptions;

/// A sentence ready for speech (immutable).
#[pyclass(frozen, name = "Sentence", module = "stream_tts._core")]
pub(crate) struct PySentence {
    #[pyo3(get)]
    text: String,
    #[pyo3(get)]
    message_id: String,
    #[pyo3(get)]
    line: u64,
    #[pyo3(get)]
    first: bool,
    #[pyo3(get)]
    fragment: bool,
    kind: SentenceKind,
}

impl From<Sentence> for PySentence {
    fn from(s: Sentence) -> Self {
        Self {
            text: s.text,
            message_id: s.message_id,
            line: s.line,
            first: s.first,
            fragment: s.fragment,
            kind: s.kind,
        }
    }
}

#[pymethods]
impl PySentence {
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind.as_str()
    }

    fn __repr__(&self) -> String {
        format!(
            "Sentence(text={:?}, message_id={:?}, line={}, first={}, fragment={}, kind={:?})",
            self.text,
            self.message_id,
            self.line,
            self.first,
            self.fragment,
            self.kind.as_str()
        )
    }
}

/// The sentence a block is probably ending (its terminator came, the word that makes the end
/// certain has not yet): what `take_guess` hands the speculating synthesis.
#[pyclass(frozen, name = "Guess", module = "stream_tts._core")]
pub(crate) struct PyGuess {
    #[pyo3(get)]
    message_id: String,
    #[pyo3(get)]
    text: String,
}

#[pymethods]
impl PyGuess {
    fn __repr__(&self) -> String {
        format!(
            "Guess(message_id={:?}, text={:?})",
            self.message_id, self.text
        )
    }
}

#[pyclass(name = "TextPipeline", module = "stream_tts._core")]
pub(crate) struct PyTextPipeline {
    inner: TextPipeline,
    out: Vec<Sentence>,
}

fn sentences<'py>(py: Python<'py>, out: &mut Vec<Sentence>) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, out.drain(..).map(PySentence::from))
}

#[pymethods]
impl PyTextPipeline {
    #[new]
    #[pyo3(signature = (input = "auto", *, speak_tools = false, speak_subagents = false, early_fragment = false, min_fragment_words = 6, max_line_bytes = 16777216, max_depth = 128, speculate = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        input: &str,
        speak_tools: bool,
        speak_subagents: bool,
        early_fragment: bool,
        min_fragment_words: usize,
        max_line_bytes: usize,
        max_depth: usize,
        speculate: bool,
    ) -> PyResult<Self> {
        let parser = parser_options(
            input,
            speak_tools,
            speak_subagents,
            max_line_bytes,
            max_depth,
        )?;
        let shaper = ShaperOptions {
            early_fragment,
            min_fragment_words,
        };
        let mut inner = TextPipeline::new(parser, shaper);
        inner.set_speculate(speculate);
        Ok(Self {
            inner,
            out: Vec::new(),
        })
    }

    /// Feed a chunk split anywhere; sentences whose end is now certain.
    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let (inner, out) = (&mut self.inner, &mut self.out);
        with_bytes(py, data, "TextPipeline.feed", |bytes| {
            inner.feed(bytes, out)
        })?;
        sentences(py, &mut self.out)
    }

    /// End of input: the rest of every open block.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let Self { inner, out } = self;
        py.detach(|| inner.finish(out));
        sentences(py, out)
    }

    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.inner.counters().into_py_dict(py)
    }

    fn take_warnings(&mut self) -> Vec<String> {
        self.inner.take_warnings()
    }

    /// The sentence the last feeds probably ended, once.
    fn take_guess(&mut self) -> Option<PyGuess> {
        self.inner.take_guess().map(|g| PyGuess {
            message_id: g.message_id,
            text: g.text,
        })
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySentence>()?;
    m.add_class::<PyGuess>()?;
    m.add_class::<PyTextPipeline>()?;
    Ok(())
}
