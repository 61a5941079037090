"""Builders of random-weight NLLB-200 and XTTS-v2 models from their real architectures.

Tests build tiny ones (seconds on a CPU); benches/gpu_bench.py builds full-size ones on the GPU.
`save_*` write the same files a hub download holds, and `put_in_hub_cache` lays them out the way
huggingface_hub caches a download, so the engines load them through their ordinary code path.
"""

from __future__ import annotations

import shutil
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Real NLLB-200-3.3B shapes (config.json of facebook/nllb-200-3.3B).
NLLB_3_3B = {
    "d_model": 2048,
    "encoder_layers": 24,
    "decoder_layers": 24,
    "encoder_attention_heads": 16,
    "decoder_attention_heads": 16,
    "encoder_ffn_dim": 8192,
    "decoder_ffn_dim": 8192,
    "vocab_size": 256206,
}
# NLLB-200-distilled-600M shapes.
NLLB_600M = {
    "d_model": 1024,
    "encoder_layers": 12,
    "decoder_layers": 12,
    "encoder_attention_heads": 16,
    "decoder_attention_heads": 16,
    "encoder_ffn_dim": 4096,
    "decoder_ffn_dim": 4096,
    "vocab_size": 256206,
}
NLLB_TINY = {
    "d_model": 32,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 64,
    "decoder_ffn_dim": 64,
}

# XTTS-v2 `model_args` (config.json of coqui/XTTS-v2); the tokenizer sets the text-token count.
XTTS_V2_ARGS: dict[str, Any] = {
    "gpt_layers": 30,
    "gpt_n_model_channels": 1024,
    "gpt_n_heads": 16,
    "gpt_max_audio_tokens": 605,
    "gpt_max_text_tokens": 402,
    "gpt_max_prompt_tokens": 70,
    "gpt_num_audio_tokens": 1026,
    "gpt_start_audio_token": 1024,
    "gpt_stop_audio_token": 1025,
    "gpt_code_stride_len": 1024,
    "gpt_use_masking_gt_prompt_approach": True,
    "gpt_use_perceiver_resampler": True,
    "input_sample_rate": 22050,
    "output_sample_rate": 24000,
    "output_hop_length": 256,
    "decoder_input_dim": 1024,
    "d_vector_dim": 512,
    "cond_d_vector_in_each_upsampling_layer": True,
    "kv_cache": True,
}
XTTS_TINY_GPT = {
    "gpt_layers": 1,
    "gpt_n_model_channels": 64,
    "gpt_n_heads": 2,
    "decoder_input_dim": 64,
}
XTTS_LANGUAGES = [
    "en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru",
    "nl", "cs", "ar", "zh-cn", "hu", "ko", "ja", "hi",
]  # fmt: skip
TEST_SPEAKER = "Test Speaker"


# ---------------------------------------------------------------- NLLB


def nllb_tokenizer() -> Any:
    """An NLLB tokenizer (the real class, its 202 language codes) over a character vocabulary."""
    from transformers import NllbTokenizer

    chars = "▁" + string.ascii_letters + string.digits + ".,!?'-:;()äöüßéèàçñ"
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for ch in chars:
        vocab.setdefault(ch, len(vocab))
    return NllbTokenizer(vocab=vocab, merges=[])


def nllb_model(shape: dict[str, int], tokenizer: Any, **kw: Any) -> Any:
    """A random-weight M2M100 (NLLB) model; `kw` go to `from_config` (dtype, ...)."""
    from transformers import AutoModelForSeq2SeqLM, M2M100Config

    fields = dict(shape)
    fields.setdefault("vocab_size", len(tokenizer))
    config = M2M100Config(
        **fields,
        max_position_embeddings=1024,
        scale_embedding=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    return AutoModelForSeq2SeqLM.from_config(config, **kw).eval()


def save_nllb(dst: Path, shape: dict[str, int] = NLLB_TINY, seed: int = 0) -> Path:
    """Write a random-weight NLLB model and its tokenizer as a hub snapshot holds them."""
    import torch

    torch.manual_seed(seed)
    tok = nllb_tokenizer()
    model = nllb_model(shape, tok)
    dst.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dst)
    tok.save_pretrained(dst)
    return dst


# ---------------------------------------------------------------- XTTS


def xtts_vocab(dst: Path) -> Path:
    """coqui-tts's shipped BPE tokenizer plus the special tokens XTTS adds ([START], [lang])."""
    import TTS
    from tokenizers import Tokenizer

    shipped = Path(TTS.__file__).parent / "tts/utils/assets/tortoise/tokenizer.json"
    tok = Tokenizer.from_file(str(shipped))
    tok.add_special_tokens(["[START]", *(f"[{lang}]" for lang in XTTS_LANGUAGES)])
    tok.save(str(dst))
    return dst


@dataclass
class XttsParts:
    config: Any
    model: Any


def xtts_model(gpt: dict[str, Any] | None = None, vocab: Path | None = None) -> XttsParts:
    """A random-weight XTTS-v2 (GPT + HiFi-GAN decoder) built from coqui-tts's classes."""
    from TTS.tts.configs.xtts_config import XttsArgs, XttsConfig
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts

    args = XttsArgs(**{**XTTS_V2_ARGS, **(gpt or {})})
    config = XttsConfig(model_args=args, languages=list(XTTS_LANGUAGES))
    config.audio.sample_rate = 22050
    config.audio.output_sample_rate = 24000
    model = Xtts(config)
    if vocab is not None:
        # Same order as Xtts.load_checkpoint: tokenizer first, then the GPT sized by it.
        model.tokenizer = VoiceBpeTokenizer(vocab_file=str(vocab))
        model.init_models()
    return XttsParts(config, model)


def save_xtts(dst: Path, gpt: dict[str, Any] | None = None, seed: int = 0) -> Path:
    """Write config.json, vocab.json, model.pth and speakers_xtts.pth as XTTS-v2 ships them."""
    import torch

    torch.manual_seed(seed)
    dst.mkdir(parents=True, exist_ok=True)
    vocab = xtts_vocab(dst / "vocab.json")
    parts = xtts_model(gpt, vocab)
    parts.config.save_json(str(dst / "config.json"))
    torch.save({"model": parts.model.state_dict()}, dst / "model.pth")
    width = parts.config.model_args.gpt_n_model_channels
    speakers = {
        TEST_SPEAKER: {
            "gpt_cond_latent": torch.randn(1, 32, width),
            "speaker_embedding": torch.randn(1, 512, 1),
        }
    }
    torch.save(speakers, dst / "speakers_xtts.pth")
    return dst


def loaded_xtts_2layer(dst: Path, device: str) -> Any:
    """A 2-layer tiny XTTS written to `dst` and loaded through our loader, its GPT blocks and
    mel head redrawn wider than the init (std 0.3), so tokens vary and errors show."""
    import torch

    from stream_tts.engines.xtts import load_xtts_model

    m = load_xtts_model(str(save_xtts(dst, {**XTTS_TINY_GPT, "gpt_layers": 2})), device)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in m.gpt.named_parameters():
            if name.startswith(("gpt.h", "mel_head")):
                p.normal_(0, 0.3)
    return m


# ---------------------------------------------------------------- hub layout


def put_in_hub_cache(
    src: Path, hub_cache: Path, repo_id: str, revision: str = "0" * 40, *, move: bool = False
) -> Path:
    """Lay `src`'s files out as huggingface_hub caches a download of `repo_id` (`move`: move
    them there instead of copying, for gigabytes).

    Returns the snapshot folder; `snapshot_download(repo_id, cache_dir=hub_cache,
    local_files_only=True)` resolves to it, exactly as for a real download.
    """
    repo_dir = hub_cache / ("models--" + repo_id.replace("/", "--"))
    snap = repo_dir / "snapshots" / revision
    snap.mkdir(parents=True, exist_ok=True)
    blobs = repo_dir / "blobs"
    blobs.mkdir(exist_ok=True)
    for f in sorted(src.rglob("*")):
        if f.is_file():
            rel = f.relative_to(src)
            blob = blobs / (str(rel).replace("/", "_") + ".blob")
            if move:
                shutil.move(f, blob)
            else:
                shutil.copyfile(f, blob)
            target = snap / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(blob)
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(revision)
    return snap
