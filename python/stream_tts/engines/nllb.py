"""NLLB-200 translation through transformers, one sentence at a time.

Greedy decoding by default (`beams` > 1 for beam search), the target language forced as the
first generated token, bf16/fp16 on GPU and float32 on CPU, SDPA attention. Safe to call from a
worker thread; `interrupt()` stops a generation in flight at the next token.

`static_cache=True` (CUDA) gives generate() a fixed-size KV cache, which lets transformers compile
the decode step into CUDA graphs: about 3-4x faster per sentence on an H100, for a one-time
compile in `warmup()` (benches/results/). Inputs are padded to a multiple of `PAD_TO` tokens and
the cache has a fixed length, so a handful of shapes cover every sentence.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

from stream_tts.engines.base import Translator
from stream_tts.engines.device import pick_device, pick_dtype
from stream_tts.engines.extras import require
from stream_tts.engines.hub import ensure_model
from stream_tts.engines.langs import UnknownLanguageError, to_flores

DEFAULT_MODEL = "facebook/nllb-200-distilled-600M"
# `--quality` names for the two NLLB-200 checkpoints worth running sentence by sentence.
QUALITY_MODELS = {"fast": DEFAULT_MODEL, "best": "facebook/nllb-200-3.3B"}
# Files a transformers NLLB snapshot needs (weights in either format).
NLLB_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt"]
PAD_TO = 16  # static cache: input lengths are rounded up to this, to bound recompiles
STATIC_MAX_NEW_TOKENS = 200  # static cache: one cache length for every sentence
WARMUP_MAX_TOKENS = 64  # static cache: input lengths captured by warmup()
WARMUP_TEXTS = (
    "Hello, this is a warm-up sentence.",
    "The build finished, all the tests passed, and the change is now ready for a review.",
)


class _Interrupted:
    """A transformers StoppingCriteria that ends generation once `event` is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event
        self._answers: dict[tuple[int, Any, bool], Any] = {}

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        # One cached tensor per answer: no allocation or copy in the decode loop.
        key = (input_ids.shape[0], input_ids.device, self.event.is_set())
        if key not in self._answers:
            import torch

            self._answers[key] = torch.full(
                (key[0],), key[2], dtype=torch.bool, device=input_ids.device
            )
        return self._answers[key]


class NllbTranslator:
    """Translate sentences with an NLLB-200 (M2M100) model already in memory."""

    name = "nllb"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        src: str = "en",
        tgt: str,
        beams: int = 1,
        max_new_tokens: int | None = None,
        generate_kwargs: dict[str, Any] | None = None,
        static_cache: bool = False,
    ) -> None:
        self.model = model
        self.static_cache = static_cache
        self.tokenizer = tokenizer
        self.src = to_flores(src)
        self.tgt = to_flores(tgt)
        self.beams = max(1, beams)
        self.max_new_tokens = max_new_tokens
        # Extra generate() settings, e.g. min/max_new_tokens to force token counts in benches.
        self.generate_kwargs = dict(generate_kwargs or {})
        self.device = next(model.parameters()).device
        self.forced_bos_token_id = self._lang_id(self.tgt)
        self._lang_id(self.src)
        tokenizer.src_lang = self.src
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.interrupted = 0  # sentences cut short by interrupt()

    def _lang_id(self, flores: str) -> int:
        tid = self.tokenizer.convert_tokens_to_ids(flores)
        if tid is None or tid == self.tokenizer.unk_token_id:
            raise UnknownLanguageError(f"this NLLB model has no language token {flores!r}")
        return int(tid)

    def warmup(self) -> None:
        if not self.static_cache:
            self.translate(WARMUP_TEXTS[0])
            return
        # Compile once, then capture each padded input length up to WARMUP_MAX_TOKENS here,
        # so no sentence pays for it later (a longer one pays about a second, once).
        text = " ".join(WARMUP_TEXTS * 16)
        for n in range(PAD_TO, WARMUP_MAX_TOKENS + 1, PAD_TO):
            self._generate(self._encode(text, max_length=n))

    def _encode(self, text: str, max_length: int | None = None) -> Any:
        pad = {"padding": True, "pad_to_multiple_of": PAD_TO} if self.static_cache else {}
        cut = {"truncation": True, "max_length": max_length} if max_length else {}
        return self.tokenizer(text, return_tensors="pt", **pad, **cut).to(self.device)

    def translate(self, text: str) -> str:
        ids = self.generate_ids(text)
        if not ids:
            return ""
        return str(self.tokenizer.decode(ids, skip_special_tokens=True)).strip()

    def generate_ids(self, text: str) -> list[int]:
        """The decoder's token ids for `text` (decoder start, target language, ...); [] if
        interrupted or empty."""
        if not text.strip():
            return []
        return self._generate(self._encode(text))

    def _generate(self, enc: Any) -> list[int]:
        import torch
        from transformers import StoppingCriteriaList

        with self._lock:
            self._stop.clear()
            n_in = int(enc["input_ids"].shape[1])
            kwargs: dict[str, Any] = {
                "forced_bos_token_id": self.forced_bos_token_id,
                "num_beams": self.beams,
                "do_sample": False,
                "max_new_tokens": self.max_new_tokens or min(512, 2 * n_in + 16),
            }
            if self.static_cache:
                kwargs["cache_implementation"] = "static"
                kwargs["max_new_tokens"] = self.max_new_tokens or STATIC_MAX_NEW_TOKENS
            extra = dict(self.generate_kwargs)
            stops = [_Interrupted(self._stop), *extra.pop("stopping_criteria", [])]
            kwargs.update(extra)
            kwargs["stopping_criteria"] = StoppingCriteriaList(stops)
            with torch.inference_mode():
                out = self.model.generate(**enc, **kwargs)
            if self._stop.is_set():
                self.interrupted += 1
                return []
            return [int(i) for i in out[0]]

    def interrupt(self) -> None:
        """Stop the translation in flight (it returns ''); later calls run normally."""
        self._stop.set()

    def close(self) -> None:
        self.model = None
        self.tokenizer = None


def load_nllb(
    model: str = DEFAULT_MODEL,
    *,
    src: str = "en",
    tgt: str,
    device: str | None = None,
    beams: int = 1,
    dtype: Any = None,
    static_cache: bool = False,
) -> NllbTranslator:
    """Load an NLLB model (hub id or local folder) onto the chosen device."""
    require("torch", "nllb")
    transformers = require("transformers", "nllb")
    dev = pick_device(device, extra="nllb")
    path = ensure_model(model, NLLB_PATTERNS, required=["config.json"])
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, src_lang=to_flores(src))
    m = transformers.AutoModelForSeq2SeqLM.from_pretrained(
        path, dtype=dtype or pick_dtype(dev), attn_implementation="sdpa"
    )
    m.to(dev).eval()
    return NllbTranslator(
        m, tokenizer, src=src, tgt=tgt, beams=beams, static_cache=static_cache and dev != "cpu"
    )


def make_translator(
    model: str = DEFAULT_MODEL,
    backend: Literal["transformers", "ct2"] = "transformers",
    src: str = "en",
    tgt: str = "de",
    device: str | None = None,
    beams: int = 1,
    static_cache: bool = False,
) -> Translator:
    """The translator the CLI asks for: `--translator MODEL` on `backend`.

    `static_cache` (transformers on CUDA only): compiled decode step, much faster per sentence
    after a warm-up of tens of seconds (see the module doc).
    """
    if backend == "ct2":
        from stream_tts.engines.ct2 import load_ct2

        return load_ct2(model, src=src, tgt=tgt, device=device, beams=beams)
    if backend != "transformers":
        raise ValueError(f"unknown translation backend {backend!r}; use 'transformers' or 'ct2'")
    return load_nllb(model, src=src, tgt=tgt, device=device, beams=beams, static_cache=static_cache)
