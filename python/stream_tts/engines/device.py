"""Which compute device and dtype an engine runs on, decided at run time.

Order: CUDA, then Apple MPS, then CPU; `--device-compute` forces one. Half precision where the
device does it well (bf16 on CUDA when supported, fp16 on MPS), float32 on CPU.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from stream_tts.engines.extras import require

if TYPE_CHECKING:
    import torch

DEVICES = ("cuda", "mps", "cpu")


class DeviceUnavailableError(RuntimeError):
    """`--device-compute` asked for a device this machine does not have."""


def pick_device(prefer: str | None = None, extra: str = "nllb") -> str:
    """`prefer` (`cuda`, `cuda:1`, `mps`, `cpu`) if it is there, else the best one present."""
    torch = require("torch", extra)
    if prefer:
        kind = prefer.split(":")[0]
        if kind not in DEVICES:
            raise DeviceUnavailableError(
                f"unknown compute device {prefer!r}; use one of {', '.join(DEVICES)}"
            )
        if kind == "cuda" and not torch.cuda.is_available():
            raise DeviceUnavailableError("--device-compute cuda: no CUDA GPU is visible to torch")
        if kind == "mps" and not _mps_available(torch):
            raise DeviceUnavailableError("--device-compute mps: Apple MPS is not available")
        return prefer
    if torch.cuda.is_available():
        return "cuda"
    if _mps_available(torch):
        return "mps"
    return "cpu"


def pick_dtype(device: str, extra: str = "nllb") -> torch.dtype:
    """bf16 on CUDA (fp16 on GPUs without bf16), fp16 on MPS, float32 on CPU."""
    tm = require("torch", extra)
    kind = device.split(":")[0]
    name = "float32"
    if kind == "cuda":
        name = "bfloat16" if tm.cuda.is_bf16_supported() else "float16"
    elif kind == "mps":
        name = "float16"
    dtype: torch.dtype = getattr(tm, name)
    return dtype


def _mps_available(torch: object) -> bool:
    backends = getattr(torch, "backends", None)
    mps = getattr(backends, "mps", None)
    return bool(mps is not None and mps.is_available())


# Devices whose CUDA context start_cuda() is creating or has created, and how long it took.
_started: dict[str, threading.Thread] = {}
cuda_start_s: dict[str, float] = {}


def start_cuda(prefer: str | None = None, extra: str = "nllb") -> threading.Thread | None:
    """Import torch, then create the CUDA context of the device pick_device(prefer) chooses on
    a thread of its own, so that it is made while the caller goes on (Python imports of
    transformers and coqui-tts: seconds that hold the GIL, which the driver's start releases).
    None where that device is not CUDA. Errors are left to the engine's own load, which meets
    them again and reports them."""
    torch = require("torch", extra)
    try:
        dev = pick_device(prefer, extra)
    except DeviceUnavailableError:
        return None
    if not dev.startswith("cuda") or dev in _started:
        return _started.get(dev)

    def create() -> None:
        t = time.perf_counter()
        try:
            torch.empty(1, device=dev)  # the first allocation creates the context
        except Exception:  # the engine's own load meets it again and reports it
            return
        cuda_start_s[dev] = time.perf_counter() - t

    thread = threading.Thread(target=create, name="stream-tts-cuda", daemon=True)
    _started[dev] = thread
    thread.start()
    return thread
