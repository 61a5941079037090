"""Run Triton kernels on CPU through Triton's interpreter when there is no GPU.

Import this before anything imports stream_tts.engines.decode.kernels: `triton.jit` reads
TRITON_INTERPRET when a kernel is defined. On a machine with CUDA nothing changes and the
kernels compile for the GPU.
"""

from __future__ import annotations

import os
import sys

import torch

INTERPRET = not torch.cuda.is_available()
DEVICE = "cuda" if not INTERPRET else "cpu"

if INTERPRET:
    if "stream_tts.engines.decode.kernels" in sys.modules:
        raise RuntimeError("kernels were imported before the Triton interpreter was enabled")
    os.environ["TRITON_INTERPRET"] = "1"
    import numpy as np
    from triton.runtime import interpreter

    # Triton 3.6's interpreter turns scalar tensors (1-element arrays) into loop bounds with
    # int(array), which NumPy 2.4 refuses for arrays that are not 0-d.
    _set_attr = interpreter._LangPatchScope.set_attr

    def _index(t: object) -> int:
        return int(np.asarray(t.handle.data).reshape(-1)[0])  # type: ignore[attr-defined]

    def _patched(self: object, obj: object, name: str, value: object) -> None:
        _set_attr(self, obj, name, _index if name == "__index__" else value)  # type: ignore[arg-type]

    interpreter._LangPatchScope.set_attr = _patched  # type: ignore[method-assign]
