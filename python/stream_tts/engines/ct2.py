"""NLLB-200 through CTranslate2, for machines without a GPU: int8 on CPU, float16 on CUDA.

A hub (transformers) model is converted once on first use and the result cached under
`~/.cache/stream-tts/ct2/`; a folder that already holds a CTranslate2 model is used as is.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from stream_tts.engines.extras import require
from stream_tts.engines.hub import cache_dir, ensure_model
from stream_tts.engines.langs import UnknownLanguageError, to_flores
from stream_tts.engines.nllb import DEFAULT_MODEL, NLLB_PATTERNS


def ct2_cache_dir() -> Path:
    return cache_dir("ct2")


def converted_model(model: str, cache: Path | None = None) -> Path:
    """A CTranslate2 model folder for `model`, converting (once) if it is a transformers one."""
    ct2 = require("ctranslate2", "ct2")
    src = ensure_model(model, NLLB_PATTERNS, required=["config.json"])
    if (src / "model.bin").exists():
        return src  # already CTranslate2
    # Keyed by the snapshot's real location, so a new hub revision converts again.
    key = hashlib.sha256(f"{src.resolve()}|{ct2.__version__}".encode()).hexdigest()[:16]
    out = (cache or ct2_cache_dir()) / f"{model.strip('/').replace('/', '--')[-60:]}-{key}"
    if (out / "model.bin").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".converting-", dir=out.parent))
    try:
        from ctranslate2.converters import TransformersConverter

        # float16 storage: loads as int8 on CPU and float16 on CUDA without a second copy.
        TransformersConverter(str(src)).convert(str(tmp), quantization="float16", force=True)
        for f in src.glob("tokenizer*"):
            shutil.copy(f, tmp / f.name)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


class Ct2Translator:
    """Translate sentences with a CTranslate2 NLLB model."""

    name = "nllb-ct2"

    def __init__(
        self,
        translator: Any,
        tokenizer: Any,
        *,
        src: str = "en",
        tgt: str,
        beams: int = 1,
        max_decoding_length: int = 256,
    ) -> None:
        self.translator = translator
        self.tokenizer = tokenizer
        self.src = to_flores(src)
        self.tgt = to_flores(tgt)
        for code in (self.src, self.tgt):
            tid = tokenizer.convert_tokens_to_ids(code)
            if tid is None or tid == tokenizer.unk_token_id:
                raise UnknownLanguageError(f"this NLLB model has no language token {code!r}")
        tokenizer.src_lang = self.src
        self.beams = max(1, beams)
        self.max_decoding_length = max_decoding_length
        self._lock = threading.Lock()

    def warmup(self) -> None:
        self.translate("Hello, this is a warm-up sentence.")

    def translate(self, text: str) -> str:
        if not text.strip():
            return ""
        with self._lock:
            tokens = self.tokenizer.convert_ids_to_tokens(self.tokenizer.encode(text))
            res = self.translator.translate_batch(
                [tokens],
                target_prefix=[[self.tgt]],
                beam_size=self.beams,
                max_decoding_length=self.max_decoding_length,
            )
            out = res[0].hypotheses[0][1:]  # drop the forced language token
            ids = self.tokenizer.convert_tokens_to_ids(out)
            return str(self.tokenizer.decode(ids, skip_special_tokens=True)).strip()

    def interrupt(self) -> None:
        """CTranslate2 decodes a sentence in one call; nothing to stop mid-way."""

    def close(self) -> None:
        self.translator = None


def load_ct2(
    model: str = DEFAULT_MODEL,
    *,
    src: str = "en",
    tgt: str,
    device: str | None = None,
    beams: int = 1,
    compute_type: str | None = None,
) -> Ct2Translator:
    ct2 = require("ctranslate2", "ct2")
    transformers = require("transformers", "ct2")
    path = converted_model(model)
    dev = device or ("cuda" if ct2.get_cuda_device_count() > 0 else "cpu")
    kind, _, index = dev.partition(":")
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"CTranslate2 runs on cpu or cuda, not {dev!r}")
    translator = ct2.Translator(
        str(path),
        device=kind,
        device_index=int(index or 0),
        compute_type=compute_type or ("float16" if kind == "cuda" else "int8"),
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, src_lang=to_flores(src))
    return Ct2Translator(translator, tokenizer, src=src, tgt=tgt, beams=beams)
