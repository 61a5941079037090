"""Load an XTTS-v2 checkpoint without coqui-tts' random initialisation.

coqui's `Xtts(config)` + `load_checkpoint` builds the GPT twice (once before the tokenizer is
known, once after) and fills every weight with random numbers each time, then reads the
whole 1.8 GB float32 checkpoint into memory and copies it over them: most of a 20-30 s start.
Here the modules are built with their large tensors on the meta device (no memory, no random
numbers; small ones, such as the mel filter banks computed at construction, stay real), the
checkpoint is memory-mapped, and `load_state_dict(assign=True)` makes its tensors the
parameters. Same classes, same weights, same function (tests/test_xtts_load.py compares).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Tensors built at least this large go to the meta device: every one of them must come from
# the checkpoint (checked after loading). Computed buffers (filter banks, windows) are smaller.
META_NUMEL = 1 << 16
# Top-level checkpoint entries coqui's loader drops (trainer leftovers).
_IGNORED = ("torch_mel_spectrogram_style_encoder", "torch_mel_spectrogram_dvae", "dvae")


class CheckpointError(ValueError):
    """The checkpoint does not hold every large weight the model needs."""


def _big_on_meta(torch: Any) -> Any:
    """A torch function mode that builds large tensors on the meta device (this thread only,
    unlike `with torch.device("meta")`, which also fails on torchaudio's filter banks)."""
    from torch.overrides import TorchFunctionMode
    from torch.utils._device import _device_constructors

    makers = _device_constructors()

    def numel(args: tuple[Any, ...]) -> int:
        size = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
        n = 1
        for s in size:
            if not isinstance(s, int):
                return 0
            n *= s
        return n

    class BigOnMeta(TorchFunctionMode):
        def __torch_function__(
            self,
            func: Any,
            types: Any,
            args: tuple[Any, ...] = (),
            kwargs: dict[str, Any] | None = None,
        ) -> Any:
            kwargs = dict(kwargs or {})
            if (
                func in makers
                and func not in (torch.tensor, torch.as_tensor, torch.asarray)
                and kwargs.get("device") is None
                and numel(args) >= META_NUMEL
            ):
                kwargs["device"] = "meta"
            return func(*args, **kwargs)

    return BigOnMeta()


def _state_dict(path: Path, torch: Any, legacy: Any) -> dict[str, Any]:
    """The checkpoint's tensors, memory-mapped (pages are read as they are used). `legacy`
    reads a checkpoint that plain data loading refuses (coqui's own reader)."""
    import pickle

    try:
        ckpt = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except pickle.UnpicklingError:
        # XTTS-v2 as downloaded pickles its config object; coqui's reader allows that class
        # and rewrites the file with the config as plain data, so this happens once.
        ckpt = {"model": legacy(path)}
    state = ckpt.get("model", ckpt)
    out = {}
    for key, value in state.items():
        key = key.removeprefix("xtts.")  # saved by coqui's trainer
        if key.split(".")[0] not in _IGNORED:
            out[key] = value
    return out


def build_xtts(path: Path, config: Any) -> Any:
    """coqui's Xtts for the checkpoint folder `path` (model.pth, vocab.json, optional
    speakers_xtts.pth), in eval mode, weights on the CPU as stored."""
    import torch
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.layers.xtts.xtts_manager import SpeakerManager
    from TTS.tts.models.xtts import Xtts

    with _big_on_meta(torch), torch.no_grad():
        m = Xtts(config)
        # As load_checkpoint: the tokenizer sizes the GPT's text embedding, then the GPT again.
        m.tokenizer = VoiceBpeTokenizer(vocab_file=str(path / "vocab.json"))
        m.init_models()
    speakers = path / "speakers_xtts.pth"
    m.speaker_manager = SpeakerManager(str(speakers)) if speakers.is_file() else None
    state = _state_dict(path / "model.pth", torch, m._load_checkpoint)
    # strict: a key missing or left over is an error, as in coqui's loader.
    m.load_state_dict(state, strict=True, assign=True)
    left = [n for n, t in [*m.named_parameters(), *m.named_buffers()] if t.is_meta]
    if left:
        raise CheckpointError(
            f"{path / 'model.pth'}: no weights for {', '.join(left[:5])}"
            + (f" and {len(left) - 5} more" if len(left) > 5 else "")
        )
    # After loading, as coqui does: the inference wrapper holds the same (loaded) modules.
    m.gpt.init_gpt_for_inference(kv_cache=m.args.kv_cache)
    m.eval()
    return m
