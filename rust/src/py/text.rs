//! Bindings of the text stage: `speakable`, `split_sentences`, `split_clauses`,
//! `first_clause_end` and the streaming `Shaper`.
//! One FFI crossing per call; long inputs are processed with the GIL released.

use pyo3::prelude::*;

use crate::error::Error;
use crate::text::clause;
use crate::text::markdown;
use crate::text::segment;
use crate::text::shaper::{Piece, Shaper as CoreShaper, ShaperOptions};

/// Inputs at least this long are worth releasing the GIL for.
const DETACH_BYTES: usize = 4096;

#[pyfunction]
fn speakable(py: Python<'_>, markdown: &str) -> String {
    if markdown.len() >= DETACH_BYTES {
        py.detach(|| markdown::speakable(markdown))
    } else {
        markdown::speakable(markdown)
    }
}

#[pyfunction]
fn split_sentences(py: Python<'_>, text: &str) -> Vec<String> {
    if text.len() >= DETACH_BYTES {
        py.detach(|| segment::split_sentences(text))
    } else {
        segment::split_sentences(text)
    }
}

fn at_least(name: &str, value: i64, least: i64) -> PyResult<usize> {
    match usize::try_from(value) {
        Ok(v) if value >= least => Ok(v),
        _ => Err(Error::InvalidArgument(format!("{name} must be >= {least}, got {value}")).into()),
    }
}

#[pyfunction]
#[pyo3(signature = (text, *, min_words = clause::MIN_WORDS as i64, max_bytes = clause::MAX_BYTES as i64))]
fn split_clauses(
    py: Python<'_>,
    text: &str,
    min_words: i64,
    max_bytes: i64,
) -> PyResult<Vec<String>> {
    let min_words = at_least("min_words", min_words, 0)?;
    let max_bytes = at_least("max_bytes", max_bytes, 1)?;
    let cut = || {
        clause::clauses(text, min_words, max_bytes)
            .into_iter()
            .map(str::to_owned)
            .collect()
    };
    Ok(if text.len() >= DETACH_BYTES {
        py.detach(cut)
    } else {
        cut()
    })
}

/// Character index just past the first clause of `text` that ends at `, ; :` (and a space)
/// after at least `min_words` words with more text after it; None if there is none yet. The
/// clause rule's cut for text still arriving (the text stage's early fragment; speech that
/// starts on the first translated clause).
#[pyfunction]
#[pyo3(signature = (text, *, min_words = clause::MIN_WORDS as i64))]
fn first_clause_end(text: &str, min_words: i64) -> PyResult<Option<usize>> {
    let min_words = at_least("min_words", min_words, 0)?;
    Ok(clause::first_break(text, min_words).map(|end| text[..end].chars().count()))
}

/// Streaming Markdown-to-sentences for one content block.
#[pyclass(module = "stream_tts._core", name = "Shaper")]
struct PyShaper {
    inner: CoreShaper,
    out: Vec<Piece>,
}

fn texts(out: &mut Vec<Piece>) -> Vec<String> {
    out.drain(..).map(|p| p.text).collect()
}

#[pymethods]
impl PyShaper {
    #[new]
    #[pyo3(signature = (*, early_fragment = false, min_fragment_words = 6))]
    fn new(early_fragment: bool, min_fragment_words: i64) -> PyResult<Self> {
        let min_fragment_words = usize::try_from(min_fragment_words).map_err(|_| {
            Error::InvalidArgument(format!(
                "min_fragment_words must be >= 0, got {min_fragment_words}"
            ))
        })?;
        Ok(PyShaper {
            inner: CoreShaper::new(ShaperOptions {
                early_fragment,
                min_fragment_words,
            }),
            out: Vec::new(),
        })
    }

    /// Construction happens in `__new__`; this only gives `__init__` the same signature.
    #[pyo3(signature = (*, early_fragment = false, min_fragment_words = 6))]
    fn __init__(&self, early_fragment: bool, min_fragment_words: i64) {
        let _ = (early_fragment, min_fragment_words);
    }

    /// Append Markdown; return every sentence whose end is now certain.
    fn feed(&mut self, py: Python<'_>, text: &str) -> Vec<String> {
        let (inner, out) = (&mut self.inner, &mut self.out);
        if text.len() >= DETACH_BYTES {
            py.detach(|| inner.feed(text, out));
        } else {
            inner.feed(text, out);
        }
        texts(out)
    }

    /// End of the block: return what is left, then start afresh for the next block.
    fn finish(&mut self, py: Python<'_>) -> Vec<String> {
        let (inner, out) = (&mut self.inner, &mut self.out);
        py.detach(|| inner.finish(out));
        texts(out)
    }

    /// Drop anything pending (interruption).
    fn reset(&mut self) {
        self.inner.reset();
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(speakable, m)?)?;
    m.add_function(wrap_pyfunction!(split_sentences, m)?)?;
    m.add_function(wrap_pyfunction!(split_clauses, m)?)?;
    m.add_function(wrap_pyfunction!(first_clause_end, m)?)?;
    m.add("CLAUSE_MIN_WORDS", clause::MIN_WORDS)?;
    m.add("CLAUSE_MAX_BYTES", clause::MAX_BYTES)?;
    m.add_class::<PyShaper>()?;
    Ok(())
}
