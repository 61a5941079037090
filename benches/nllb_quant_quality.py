"""How far int8 / int4 weights and the script head move NLLB-200's output (issue 13).

    python benches/nllb_quant_quality.py --out DIR                  # CPU: small random model
    HF_HOME=/tmp/hf python benches/nllb_quant_quality.py --out DIR --which 3.3b   # GPU

Against the reference decode (our loop's SDPA step, which computes what generate() does, in the
model's dtype), for: fused bf16, fused int8, fused int4, fused int4 with an int8 output layer
(fused_step.INT4_HEAD off), and bf16 / int8 / int4 with the script head.
Per variant, on the sentences of benches/gpu_e2e.py:
- teacher forcing on the reference's greedy tokens, per step: KL(ref || variant) of the
  softmaxes, max |Δ log-prob| over the vocabulary, top-1 agreement; for script heads both
  distributions are renormalised over the kept rows, and the reference's probability mass
  outside them is reported beside;
- greedy decoding: sentences decoded identically, and tokens equal to the reference's.

THE WEIGHTS ARE RANDOM: no real checkpoint is reachable offline, so these numbers measure how
the variants perturb one random network of the real shape, not translation quality. A random
network's logits are flatter or spikier than a trained one's, which changes how often a small
perturbation flips the top token. GPU mode reads full-size models from the hub layout that
`python benches/gpu_e2e.py models --hub /tmp/hf/hub --which 3.3b,600m` writes (HF_HOME=/tmp/hf);
their vocabulary is Latin pseudo-words, so a Latin-script head keeps nearly every row there.
Results: DIR/nllb_quant_quality.json and .md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "python"))
sys.path.insert(0, str(HERE))

RANDOM_NOTE = (
    "Weights are RANDOM (no real checkpoint offline): these numbers show how the variants "
    "perturb a random network of this shape, not translation quality."
)
CPU_SHAPE = {
    "d_model": 256,
    "encoder_layers": 2,
    "decoder_layers": 3,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "encoder_ffn_dim": 1024,
    "decoder_ffn_dim": 1024,
}


def cpu_model(std: float) -> tuple[Any, Any]:
    import gpu_models as gm
    import torch

    tok = gm.nllb_tokenizer()
    torch.manual_seed(0)
    m = gm.nllb_model(CPU_SHAPE, tok)
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() == 2:  # matrices wider than the init, so greedy output varies
                p.normal_(0, std)
        # As gpu_e2e.py's models: special rows (language codes, ...) zeroed but EOS, so the
        # random model writes vocabulary rather than language tags.
        emb = m.get_input_embeddings().weight
        emb[[i for i in tok.all_special_ids if i != tok.eos_token_id]] = 0
    return m, tok


def gpu_model(which: str) -> tuple[Any, Any]:
    from gpu_e2e import NLLB_REPOS

    from stream_tts.engines.nllb import load_nllb

    tr = load_nllb(NLLB_REPOS[which], tgt="de", loop="stock")
    return tr.model, tr.tokenizer


def compare(ref: Any, var: Any, keep: Any) -> dict[str, float]:
    """Teacher-forced logits [steps, vocab] of the reference and a variant."""
    import torch

    ref, var = ref.float(), var.float()
    out: dict[str, float] = {}
    if keep is not None:
        p_all = torch.softmax(ref, dim=-1)
        out["ref_mass_outside_kept"] = float(1 - p_all[:, keep].sum(dim=-1).mean())
        ref, var = ref[:, keep], var[:, keep]
    lp_ref = torch.log_softmax(ref, dim=-1)
    lp_var = torch.log_softmax(var, dim=-1)
    kl = (lp_ref.exp() * (lp_ref - lp_var)).sum(dim=-1)
    out["kl_mean"] = float(kl.mean())
    out["kl_max"] = float(kl.max())
    out["max_abs_dlogprob"] = float((lp_ref - lp_var).abs().max())
    out["top1_agree"] = float((ref.argmax(-1) == var.argmax(-1)).float().mean())
    return out


def run(model: Any, tok: Any, texts: list[str], tgt: str, max_new: int) -> dict[str, Any]:
    import torch

    from stream_tts.engines.decode.nllb_loop import NllbLoop
    from stream_tts.engines.decode.script_head import kept_ids

    rows = model.get_output_embeddings().weight.shape[0]
    keep = kept_ids(tok, tgt, rows)
    bos = int(tok.convert_tokens_to_ids(tgt))
    keep_t = torch.tensor(keep)
    from stream_tts.engines.decode import fused_step

    variants: dict[str, dict[str, Any]] = {
        "fused bf16": {"fused": True},
        "fused int8": {"weights": "int8"},
        "fused int4": {"weights": "int4"},
        "fused int4, int8 output layer": {"weights": "int4", "int4_head": False},
        "fused bf16 + script head": {"fused": True, "head_ids": keep},
        "fused int8 + script head": {"weights": "int8", "head_ids": keep},
        "fused int4 + script head": {"weights": "int4", "head_ids": keep},
    }
    ref_loop = NllbLoop(model, graphs=False, fused=False)
    loops = {}
    for name, kw in variants.items():
        opts = dict(kw)
        fused_step.INT4_HEAD = opts.pop("int4_head", True)  # read as the loop is built
        loops[name] = NllbLoop(model, graphs=False, **opts)
    fused_step.INT4_HEAD = True
    stats: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    greedy: dict[str, list[tuple[bool, int, int]]] = {name: [] for name in variants}
    for text in texts:
        ids = [int(i) for i in tok(text)["input_ids"]]
        ref_out = ref_loop.generate(ids, bos, max_new)
        assert ref_out is not None
        targets = ref_out[1:]
        ref_logits = torch.stack(ref_loop.forced_logits(ids, bos, targets)).cpu()
        for name, loop in loops.items():
            var = torch.stack(loop.forced_logits(ids, bos, targets)).cpu()
            scripted = "script" in name
            stats[name].append(compare(ref_logits, var, keep_t if scripted else None))
            out = loop.generate(ids, bos, max_new)
            assert out is not None
            same = sum(a == b for a, b in zip(out[1:], targets, strict=False))
            greedy[name].append((out == ref_out, same, len(targets)))
    result: dict[str, Any] = {"kept_rows": len(keep), "vocab_rows": rows, "variants": {}}
    for name in variants:
        per = stats[name]
        agg = {k: sum(p[k] for p in per) / len(per) for k in per[0] if not k.endswith("max")}
        agg["kl_max"] = max(p["kl_max"] for p in per)
        agg["max_abs_dlogprob"] = max(p["max_abs_dlogprob"] for p in per)
        g = greedy[name]
        agg["sentences_identical"] = f"{sum(x[0] for x in g)}/{len(g)}"
        agg["tokens_equal"] = f"{sum(x[1] for x in g)}/{sum(x[2] for x in g)}"
        result["variants"][name] = agg
        print(name, agg, flush=True)
    return result


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"# NLLB int8 / int4 weights and script head: divergence from the reference "
        f"({res['date']})",
        "",
        f"**{RANDOM_NOTE}**",
        "",
        f"Command: `{res['command']}`. Device: {res['device']}. Model: {res['model']}; target "
        f"{res['tgt']}; {res['sentences']} sentences; script head keeps "
        f"{res['kept_rows']} of {res['vocab_rows']} rows.",
        "",
        "| variant | KL mean | KL max | max abs Δ log-prob | top-1 agree (forced) | ref mass "
        "outside kept | greedy: sentences identical | greedy: tokens equal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, v in res["variants"].items():
        outside = v.get("ref_mass_outside_kept")
        lines.append(
            f"| {name} | {v['kl_mean']:.2e} | {v['kl_max']:.2e} | {v['max_abs_dlogprob']:.3f} | "
            f"{v['top1_agree']:.3f} | {'-' if outside is None else f'{outside:.3f}'} | "
            f"{v['sentences_identical']} | {v['tokens_equal']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--which", default="", help="3.3b or 600m from the hub (GPU); empty: CPU")
    ap.add_argument("--tgt", default="deu_Latn")
    ap.add_argument("--sentences", type=int, default=8)
    ap.add_argument("--max-new", type=int, default=40)
    ap.add_argument("--std", type=float, default=0.08, help="CPU model: weight std")
    a = ap.parse_args()
    import torch
    from gpu_e2e import sentences

    print(RANDOM_NOTE, flush=True)
    t = time.time()
    if a.which:
        model, tok = gpu_model(a.which)
        name = f"NLLB-{a.which} full size (hub layout of gpu_e2e.py models)"
    else:
        model, tok = cpu_model(a.std)
        name = f"small random NLLB {CPU_SHAPE} std {a.std}, character vocabulary"
    tok.src_lang = "eng_Latn"
    texts = sentences()[: a.sentences]
    res = {
        "date": time.strftime("%Y-%m-%d"),
        "command": "python " + " ".join(sys.argv),
        "device": torch.cuda.get_device_name() if a.which else "cpu",
        "model": name,
        "tgt": a.tgt,
        "sentences": len(texts),
        "note": RANDOM_NOTE,
    }
    res |= run(model, tok, texts, a.tgt, a.max_new)
    res["seconds"] = time.time() - t
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "nllb_quant_quality.json").write_text(json.dumps(res, indent=1))
    (out / "nllb_quant_quality.md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
