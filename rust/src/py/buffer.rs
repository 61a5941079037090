//! Reading a Python buffer (bytes, bytearray, memoryview) in place with the GIL released.

use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::PyBufferError;
use pyo3::prelude::*;

/// The borrowed bytes of a Python buffer, handed to Rust while the GIL is released.
struct Chunk(*const u8, usize);

// SAFETY: the buffer export (PyUntypedBuffer) outlives the detached call and keeps the memory
// alive and unresizable; Rust only reads it. (Another Python thread writing into the same
// bytearray meanwhile would race, as with any buffer-protocol consumer.)
unsafe impl Send for Chunk {}

impl Chunk {
    fn as_slice(&self) -> &[u8] {
        if self.1 == 0 {
            return &[];
        }
        // SAFETY: see the Send impl; ptr/len come from a C-contiguous buffer export.
        unsafe { std::slice::from_raw_parts(self.0, self.1) }
    }
}

/// Run `f` on the bytes of `data` without copying them and without the GIL.
pub(crate) fn with_bytes<R: Send>(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    what: &str,
    f: impl FnOnce(&[u8]) -> R + Send,
) -> PyResult<R> {
    let buf = PyUntypedBuffer::get(data)?;
    if !buf.is_c_contiguous() {
        return Err(PyBufferError::new_err(format!(
            "{what} needs a C-contiguous buffer (bytes, bytearray or memoryview)"
        )));
    }
    let chunk = Chunk(buf.buf_ptr().cast::<u8>(), buf.len_bytes());
    let r = py.detach(move || f(chunk.as_slice()));
    drop(buf);
    Ok(r)
}
