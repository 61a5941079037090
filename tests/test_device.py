"""Compute-device choice and the message for a missing optional extra."""

from __future__ import annotations

import sys

import pytest
import torch

from stream_tts.engines.device import DeviceUnavailableError, pick_device, pick_dtype
from stream_tts.engines.extras import MissingExtraError, require


def test_auto_picks_cuda_then_mps_then_cpu() -> None:
    if torch.cuda.is_available():
        expected = "cuda"
    elif torch.backends.mps.is_available():
        expected = "mps"
    else:
        expected = "cpu"
    assert pick_device(None) == expected


def test_forced_cpu() -> None:
    assert pick_device("cpu") == "cpu"


def test_forced_cuda_fails_clearly_without_a_gpu() -> None:
    if torch.cuda.is_available():
        assert pick_device("cuda:0") == "cuda:0"
    else:
        with pytest.raises(DeviceUnavailableError, match="no CUDA GPU"):
            pick_device("cuda")


def test_unknown_device() -> None:
    with pytest.raises(DeviceUnavailableError, match="cuda, mps, cpu"):
        pick_device("tpu")


def test_dtypes() -> None:
    assert pick_dtype("cpu") == torch.float32
    assert pick_dtype("mps") == torch.float16
    if torch.cuda.is_available():
        assert pick_dtype("cuda") in (torch.bfloat16, torch.float16)


def test_require_names_the_extra() -> None:
    with pytest.raises(MissingExtraError, match=r'pip install "stream-tts\[xtts\]"'):
        require("stream_tts_no_such_module", "xtts")


@pytest.mark.parametrize(
    ("hidden", "extra", "call"),
    [
        ("torch", "nllb", "nllb"),
        ("transformers", "nllb", "nllb"),
        ("ctranslate2", "ct2", "ct2"),
        ("TTS", "xtts", "xtts"),
    ],
)
def test_engines_name_their_missing_extra(
    monkeypatch: pytest.MonkeyPatch, hidden: str, extra: str, call: str
) -> None:
    # None in sys.modules makes `import hidden` raise ImportError, as if it were not installed.
    monkeypatch.setitem(sys.modules, hidden, None)
    if call == "nllb":
        from stream_tts.engines.nllb import load_nllb

        fn = lambda: load_nllb("org/model", tgt="de")  # noqa: E731
    elif call == "ct2":
        from stream_tts.engines.ct2 import load_ct2

        fn = lambda: load_ct2("org/model", tgt="de")  # noqa: E731
    else:
        from stream_tts.engines.xtts import make_xtts

        fn = lambda: make_xtts("org/model", language="de")  # noqa: E731
    with pytest.raises(MissingExtraError, match=rf"stream-tts\[{extra}\]"):
        fn()
