"""Start-up of the GPU engines (registry.PendingTranslator, the CLI's order): what it imports,
that leaving packages out of transformers' import changes nothing computed, and the CUDA
context started early only for CUDA. Tiny random-weight models of the real architectures
(tests/gpu_models.py) on the CPU; the import checks run in a fresh interpreter, as the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import gpu_models as gm
import pytest
import torch

from stream_tts.engines import device
from stream_tts.engines.nllb import load_nllb

# Imported by transformers (and so by the start-up) only for features we never run; start-up
# must leave them out (engines/extras.py require_transformers).
UNUSED = ("sklearn", "scipy.optimize", "scipy.stats")
SOURCE = "Hello there, how are you today?"

# The CLI's start-up for `--tts xtts --translate-to de` on the CPU, then what came of it.
START = """
import importlib, json, sys
from stream_tts.config import Settings
from stream_tts.registry import PendingTranslator, create_speech_engine
s = Settings(tts="xtts", translate_to="de", compute_device="cpu")
s.engine_options = {"translate": {"model": sys.argv[1]}, "xtts": {"model": sys.argv[2]}}
pending = PendingTranslator(s)
engine = create_speech_engine(s)
translator = pending.result()
loaded = [m for m in json.loads(sys.argv[3]) if m in sys.modules]
for m in json.loads(sys.argv[3]):
    importlib.import_module(m)  # hidden only while transformers was imported
stock = translator.model.generate(**translator._encode(sys.argv[4]), num_beams=2,
                                  forced_bos_token_id=translator.forced_bos_token_id,
                                  max_new_tokens=12)
print(json.dumps({"loaded": loaded, "own": translator.generate_ids(sys.argv[4]),
                  "stock": stock[0].tolist()}))
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("models")
    return gm.save_nllb(root / "nllb"), gm.save_xtts(root / "xtts", gm.XTTS_TINY_GPT)


@pytest.fixture(scope="module")
def started(models: tuple[Path, Path]) -> dict[str, Any]:
    nllb, xtts = models
    r = subprocess.run(
        [sys.executable, "-c", START, str(nllb), str(xtts), json.dumps(UNUSED), SOURCE],
        capture_output=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    out: dict[str, Any] = json.loads(r.stdout.decode().splitlines()[-1])
    return out


def test_start_up_leaves_out_what_transformers_would_import_unused(
    started: dict[str, Any],
) -> None:
    assert started["loaded"] == []


def test_transformers_imported_without_them_computes_the_same(
    models: tuple[Path, Path], started: dict[str, Any]
) -> None:
    # Here transformers was imported with nothing hidden: gpu_models imports it first.
    assert "scipy.optimize" in sys.modules
    t = load_nllb(str(models[0]), tgt="de", device="cpu")
    with torch.inference_mode():
        stock = t.model.generate(
            **t._encode(SOURCE),
            num_beams=2,
            forced_bos_token_id=t.forced_bos_token_id,
            max_new_tokens=12,
        )
    assert started["stock"] == stock[0].tolist()
    assert started["own"] == t.generate_ids(SOURCE)


def test_cuda_context_is_started_only_for_cuda() -> None:
    assert device.start_cuda("cpu") is None
    thread = device.start_cuda(None)
    if not torch.cuda.is_available():
        assert thread is None
        return
    assert thread is not None
    thread.join(60)
    assert device.start_cuda(None) is thread  # once per device
    assert "cuda" in device.cuda_start_s
