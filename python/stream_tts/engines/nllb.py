"""NLLB-200 translation, one sentence at a time.

Greedy decoding by default, the target language forced as the first generated token, bf16/fp16
on GPU and float32 on CPU. Safe to call from any thread; `interrupt()` stops a generation in
flight at the next token.

Two decode loops compute the same tokens (tests/test_nllb_loop.py checks it):
- `own` (default, engines/decode/nllb_loop.py): our encoder pass and decode loop over the
  model's weights; on CUDA each step is a CUDA graph, captured in `warmup()` (about a second)
  and replayed on the translator's own thread, whichever thread asks;
- `stock`: transformers' generate(), also what beam search (`beams` > 1) and generation configs
  our loop does not cover use.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from stream_tts.engines.device import pick_device, pick_dtype
from stream_tts.engines.extras import require, require_transformers
from stream_tts.engines.hub import ensure_model
from stream_tts.engines.langs import UnknownLanguageError, to_flores

DEFAULT_MODEL = "facebook/nllb-200-distilled-600M"
# `--quality` names for the two NLLB-200 checkpoints worth running sentence by sentence.
QUALITY_MODELS = {"fast": DEFAULT_MODEL, "best": "facebook/nllb-200-3.3B"}
# Files a transformers NLLB snapshot needs (weights in either format).
NLLB_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt"]
LOOPS = ("own", "stock")
# bf16: the checkpoint's own dtype; int8 / int4: decoder + output layer quantised (fused_step)
WEIGHTS = ("bf16", "int8", "int4")
HEADS = ("full", "script")  # script: output rows of the target language's script only
# generate() settings our loop honours; others (set by benches and tests) go to generate().
_OWN_KWARGS = {"min_new_tokens", "max_new_tokens"}
WARMUP_MAX_TOKENS = 64  # own loop on CUDA: input lengths whose graphs warmup() captures
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
        loop: str = "own",
        weights: str = "bf16",
        head: str = "full",
    ) -> None:
        if loop not in LOOPS:
            raise ValueError(f"unknown decode loop {loop!r}; use one of {', '.join(LOOPS)}")
        if weights not in WEIGHTS:
            raise ValueError(f"unknown NLLB weights {weights!r}; use one of {', '.join(WEIGHTS)}")
        if head not in HEADS:
            raise ValueError(f"unknown NLLB head {head!r}; use one of {', '.join(HEADS)}")
        self.weights, self.head = weights, head
        self.model = model
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
        self.loop = self._own_loop() if loop == "own" else None
        self.loop_name = "own" if self.loop is not None else "stock"
        if self.loop is None and (weights, head) != ("bf16", "full"):
            raise ValueError(
                "NLLB int8 / int4 weights and the script head need our decode loop, which does not "
                f"cover this configuration (loop {loop!r}, beams {self.beams})"
            )

    def _own_loop(self) -> Any:
        """Our loop where it computes what generate() would; None (generate) otherwise."""
        from stream_tts.engines.decode.nllb_loop import NllbLoop
        from stream_tts.engines.decode.runner import GpuThread

        extra = set(self.generate_kwargs) - _OWN_KWARGS
        if extra or NllbLoop.unsupported(self.model, self.beams) is not None:
            return None
        cuda = self.device.type == "cuda"
        head_ids = None
        if self.head == "script":
            from stream_tts.engines.decode.script_head import kept_ids

            rows = self.model.get_output_embeddings().weight.shape[0]
            head_ids = kept_ids(self.tokenizer, self.tgt, rows)
        loop = NllbLoop(self.model, graphs=cuda, weights=self.weights, head_ids=head_ids)
        # CUDA graphs are captured and replayed on this one thread, whoever calls translate().
        self._gpu = GpuThread("stream-tts-nllb") if cuda else None
        return loop

    def _lang_id(self, flores: str) -> int:
        tid = self.tokenizer.convert_tokens_to_ids(flores)
        if tid is None or tid == self.tokenizer.unk_token_id:
            raise UnknownLanguageError(f"this NLLB model has no language token {flores!r}")
        return int(tid)

    def warmup(self) -> None:
        loop = self.loop
        if loop is not None and self._gpu is not None:
            self._gpu.call(lambda: loop.warmup(max_src=WARMUP_MAX_TOKENS))
        for text in WARMUP_TEXTS:
            self.translate(text)

    def _encode(self, text: str) -> Any:
        return self.tokenizer(text, return_tensors="pt").to(self.device)

    def _source_ids(self, text: str) -> list[int]:
        # Our loop takes a list: no tensors to the device and back one int at a time
        # (0.6 ms of each translation on an H200, 2026-11-30-h200-nllb-engine.md).
        return [int(i) for i in self.tokenizer(text)["input_ids"]]

    def translate(self, text: str) -> str:
        ids = self.generate_ids(text)
        if not ids:
            return ""
        return str(self.tokenizer.decode(ids, skip_special_tokens=True)).strip()

    def translate_clauses(self, text: str, min_words: int | None = None) -> Iterator[str]:
        """translate(text) in pieces, each given out as soon as the translation so far ends a
        clause (the clause rule's streaming cut, `_core.first_clause_end`: `, ; :` after at
        least `min_words` words), while the decoder goes on; joined with spaces the pieces
        are translate(text). Nothing more after interrupt(); closing the iterator stops the
        decoder between two steps. Loops other than ours give the whole translation at once.
        """
        from stream_tts._core import CLAUSE_MIN_WORDS, first_clause_end

        words = CLAUSE_MIN_WORDS if min_words is None else min_words
        if not text.strip():
            return
        if not self._own():
            whole = self.translate(text)
            if whole:
                yield whole
            return
        assert self.loop is not None  # _own() said so
        src = self._source_ids(text)
        with self._lock:
            self._stop.clear()
            ids = [self.loop.start_token]
            said = 0  # characters of the decoded text given out so far
            for tok in self._new_tokens(src):
                ids.append(tok)
                so_far = self._decode(ids)
                end = first_clause_end(so_far[said:], min_words=words)
                if end is not None:
                    yield so_far[said : said + end].strip()
                    said += end
            if self._stop.is_set():
                self.interrupted += 1
                return
            rest = self._decode(ids).strip()[said:].strip()
            if rest:
                yield rest

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True)).lstrip()

    def _new_tokens(self, src: list[int]) -> Iterator[int]:
        """Our loop's new tokens for the source ids `src`, one as each step ends; on CUDA the
        loop runs on the GPU thread (its graphs live there) and hands them over through a
        queue."""
        loop = self.loop
        assert loop is not None
        steps = loop.generate_iter(
            src,
            self.forced_bos_token_id,
            self._max_new(len(src)),
            min_new_tokens=self.generate_kwargs.get("min_new_tokens"),
        )
        if self._gpu is None:
            for tok in steps:
                if self._stop.is_set():
                    break
                yield tok
            return
        handed: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        cancel = threading.Event()

        def run() -> None:
            try:
                for tok in steps:
                    if cancel.is_set() or self._stop.is_set():
                        break
                    handed.put(tok)
            finally:
                steps.close()
                handed.put(None)

        done = self._gpu.submit(run)
        try:
            while (tok := handed.get()) is not None:
                yield tok
        finally:
            cancel.set()
            done.result()  # the loop's buffers are free for the next sentence (errors raise)

    def _own(self) -> bool:
        """Whether this call runs our loop: it exists and covers the generate() settings."""
        return self.loop is not None and set(self.generate_kwargs) <= _OWN_KWARGS

    def _max_new(self, n_in: int) -> int:
        """The new-token budget for a source of `n_in` tokens: generate_kwargs' max_new_tokens,
        else the translator's, else twice the source plus 16 (at most 512)."""
        default = self.max_new_tokens or min(512, 2 * n_in + 16)
        return int(self.generate_kwargs.get("max_new_tokens", default))

    def generate_ids(self, text: str) -> list[int]:
        """The decoder's token ids for `text` (decoder start, target language, ...); [] if
        interrupted or empty."""
        if not text.strip():
            return []
        with self._lock:
            self._stop.clear()
            if self._own():
                src = self._source_ids(text)
                out = self._generate_own(src, self._max_new(len(src)))
            else:
                enc = self._encode(text)
                out = self._generate_stock(enc, self._max_new(int(enc["input_ids"].shape[1])))
            if out is None or self._stop.is_set():
                self.interrupted += 1
                return []
            return out

    def _generate_own(self, ids: list[int], max_new: int) -> list[int] | None:
        loop = self.loop
        assert loop is not None  # the caller chose our loop

        def run() -> list[int] | None:
            result: list[int] | None = loop.generate(
                ids,
                self.forced_bos_token_id,
                max_new,
                stop=self._stop,
                min_new_tokens=self.generate_kwargs.get("min_new_tokens"),
            )
            return result

        return self._gpu.call(run) if self._gpu is not None else run()

    def _generate_stock(self, enc: Any, max_new: int) -> list[int]:
        import torch
        from transformers import StoppingCriteriaList

        kwargs: dict[str, Any] = {
            "forced_bos_token_id": self.forced_bos_token_id,
            "num_beams": self.beams,
            "do_sample": False,
            "max_new_tokens": max_new,
        }
        extra = dict(self.generate_kwargs)
        stops = [_Interrupted(self._stop), *extra.pop("stopping_criteria", [])]
        kwargs.update(extra)
        kwargs["stopping_criteria"] = StoppingCriteriaList(stops)
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
        return [int(i) for i in out[0]]

    def interrupt(self) -> None:
        """Stop the translation in flight (it returns ''); later calls run normally."""
        self._stop.set()

    def close(self) -> None:
        gpu = getattr(self, "_gpu", None)
        if gpu is not None:
            gpu.close()
        self.model = None
        self.tokenizer = None
        self.loop = None


def import_transformers() -> None:
    """The modules load_nllb needs (seconds of Python imports), without loading."""
    require("torch", "nllb")
    require_transformers("nllb")
    import transformers.models.m2m_100.modeling_m2m_100
    import transformers.models.nllb.tokenization_nllb  # noqa: F401


def load_nllb(
    model: str = DEFAULT_MODEL,
    *,
    src: str = "en",
    tgt: str,
    device: str | None = None,
    beams: int = 1,
    dtype: Any = None,
    loop: str = "own",
    weights: str = "bf16",
    head: str = "full",
) -> NllbTranslator:
    """Load an NLLB model (hub id or local folder) onto the chosen device."""
    require("torch", "nllb")
    transformers = require_transformers("nllb")
    dev = pick_device(device, extra="nllb")
    path = ensure_model(model, NLLB_PATTERNS, required=["config.json"])
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, src_lang=to_flores(src))
    m = transformers.AutoModelForSeq2SeqLM.from_pretrained(
        path, dtype=dtype or pick_dtype(dev), attn_implementation="sdpa"
    )
    m.to(dev).eval()
    return NllbTranslator(
        m, tokenizer, src=src, tgt=tgt, beams=beams, loop=loop, weights=weights, head=head
    )
