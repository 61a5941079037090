"""The fused decode step's Triton kernels (engines/decode/kernels.py) against plain torch, on
fresh random inputs. Without a GPU they run in Triton's interpreter (numpy on CPU), with small
shapes; with one they compile for it: `pytest -q tests/test_kernels.py` on the GPU machine.
"""

from __future__ import annotations

import math
from typing import Any

import gpu_models as gm
import pytest
import torch
import torch.nn.functional as F
import triton_interp
from triton_interp import DEVICE

from stream_tts.engines.decode import kernels as K
from stream_tts.engines.decode.quant import dequantize, quantize_int4, quantize_rows, unpack_int4

# Small blocks make the loops over K, rows and splits run more than once at small shapes.
SMALL = K.GemvConfig(block_n=8, block_k=32, split_k=2, warps=4)
DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "int8": torch.int8}


def rand(*shape: int, g: torch.Generator, scale: float = 1.0, shift: float = 0.0) -> Any:
    return (torch.randn(*shape, generator=g) * scale + shift).to(DEVICE)


def weights(n: int, k: int, kind: str, g: torch.Generator) -> tuple[Any, Any, Any]:
    """(w as the kernel takes it, its scale or None, the float32 matrix it stands for)."""
    w = rand(n, k, g=g, scale=0.2)
    if kind == "int8":
        q, s = quantize_rows(w)
        return q, s, dequantize(q, s, torch.float32)
    if kind == "int4":
        q, s = quantize_int4(w)
        return q, s, dequantize(q, s, torch.float32)
    w = w.to(DTYPES[kind])
    return w, None, w.float()


def close(a: Any, b: Any) -> None:
    # The GPU's float32 references (cuBLAS, SDPA kernels) sum in other orders than ours.
    tol = 2e-4 if triton_interp.INTERPRET else 1e-3
    torch.testing.assert_close(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", ["f32", "bf16", "int8", "int4"])
@pytest.mark.parametrize(
    ("cfg", "ln_one_load"),
    [(SMALL, True), (None, True), (SMALL, False)],
    ids=["small-blocks", "default-blocks", "small-blocks-ln-in-chunks"],
)
def test_gemv_layernorm_bias_relu(
    kind: str, cfg: Any, ln_one_load: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(K, "LN_ONE_LOAD", ln_one_load)
    g = torch.Generator().manual_seed(1)
    n, k = 44, 80  # neither a multiple of the blocks
    w, scale, ref_w = weights(n, k, kind, g)
    x = rand(k, g=g, scale=3.0, shift=1.5)  # a mean and spread for the LayerNorm to remove
    ln_w, ln_b, bias = rand(k, g=g), rand(k, g=g), rand(n, g=g)
    out = torch.zeros(n, device=DEVICE)
    K.gemv(w, x, out, scale=scale, bias=bias, ln=(ln_w, ln_b, 1e-5), relu=True, config=cfg)
    ref = F.relu(F.linear(F.layer_norm(x, (k,), ln_w, ln_b, 1e-5), ref_w, bias))
    close(out, ref)
    assert (ref == 0).any() and (ref > 0).any()  # the ReLU had work on both sides

    plain = torch.zeros(n, device=DEVICE)
    K.gemv(w, x, plain, scale=scale, config=cfg)
    close(plain, F.linear(x, ref_w))


@pytest.mark.parametrize("kind", ["f32", "bf16", "int8"])
def test_gemv_gelu_is_gpt2s_tanh_gelu(kind: str) -> None:
    g = torch.Generator().manual_seed(9)
    n, k = 72, 96
    w, scale, ref_w = weights(n, k, kind, g)
    x = rand(k, g=g, scale=3.0, shift=1.0)
    ln_w, ln_b = rand(k, g=g), rand(k, g=g)
    bias = rand(n, g=g, scale=8.0)  # outputs far into both tails of the GELU
    out = torch.zeros(n, device=DEVICE)
    K.gemv(w, x, out, scale=scale, bias=bias, ln=(ln_w, ln_b, 1e-5), gelu=True, config=SMALL)
    pre = F.linear(F.layer_norm(x, (k,), ln_w, ln_b, 1e-5), ref_w, bias)
    close(out, F.gelu(pre, approximate="tanh"))
    assert pre.min() < -8 and pre.max() > 8
    assert (F.gelu(pre) - F.gelu(pre, approximate="tanh")).abs().max() > 1e-4  # not erf's
    with pytest.raises(ValueError, match="one activation"):
        K.gemv(w, x, out, scale=scale, relu=True, gelu=True, config=SMALL)


@pytest.mark.parametrize("kind", ["f32", "bf16", "int8", "int4"])
@pytest.mark.parametrize("split", [1, 2, 4])
def test_gemv_adds_into_the_residual_stream(kind: str, split: int) -> None:
    g = torch.Generator().manual_seed(2)
    n, k = 40, 200
    w, scale, ref_w = weights(n, k, kind, g)
    x, bias, res = rand(k, g=g), rand(n, g=g), rand(n, g=g)
    out = res.clone()
    cfg = K.GemvConfig(block_n=8, block_k=32, split_k=split, warps=4)
    K.gemv(w, x, out, scale=scale, bias=bias, add=True, config=cfg)
    close(out, res + F.linear(x, ref_w, bias))  # the bias once, whatever the split


@pytest.mark.parametrize("kind", ["bf16", "int4"])
def test_gemv_writes_k_and_v_into_the_cache_at_the_device_position(kind: str) -> None:
    g = torch.Generator().manual_seed(3)
    heads, hd, max_len, layers = 2, 16, 12, 3
    d = heads * hd
    w, scale, ref_w = weights(3 * d, d, kind, g)
    x, bias = rand(d, g=g), rand(3 * d, g=g)
    ln_w, ln_b = rand(d, g=g), rand(d, g=g)
    cache = torch.zeros(layers, 2, 1, heads, max_len, hd, dtype=torch.bfloat16, device=DEVICE)
    before = cache.clone()
    q = torch.zeros(d, device=DEVICE)
    pos = torch.tensor([5], device=DEVICE)
    other = rand(d, g=g)  # the fused FFN's next target: cleared by this launch
    K.gemv(
        w, x, q, scale=scale, bias=bias, ln=(ln_w, ln_b, 1e-5), kv=(cache[1, :, 0], pos, hd),
        zero=other, config=SMALL,
    )  # fmt: skip
    ref = F.linear(F.layer_norm(x, (d,), ln_w, ln_b, 1e-5), ref_w, bias)
    close(q, ref[:d])
    assert not other.any()
    expect = before.clone()
    expect[1, 0, 0, :, 5] = ref[d : 2 * d].view(heads, hd).to(torch.bfloat16)
    expect[1, 1, 0, :, 5] = ref[2 * d :].view(heads, hd).to(torch.bfloat16)
    torch.testing.assert_close(cache.float(), expect.float(), rtol=1e-2, atol=1e-2)
    assert torch.equal(cache[1, :, :, :, :5], before[1, :, :, :, :5])  # nothing else written
    assert torch.equal(cache[0], before[0]) and torch.equal(cache[2], before[2])


@pytest.mark.parametrize("seg", [8, 64])
@pytest.mark.parametrize("split", [1, 2])
@pytest.mark.parametrize("kind", ["bf16", "int8"])
def test_gemv_softmax_prologue_per_run(seg: int, split: int, kind: str) -> None:
    """The folded cross-attention's output GEMV: x holds scores, each run of `seg` goes
    through a softmax (-inf: weight 0), then scale, bias and the residual add."""
    g = torch.Generator().manual_seed(11)
    heads, n = 3, 24  # 3 runs: not a power of two, so a chunk reaches past K
    k = heads * seg
    w, scale, ref_w = weights(n, k, kind, g)
    scores = rand(k, g=g, scale=4.0)
    scores[torch.rand(k, generator=g).to(DEVICE) < 0.3] = float("-inf")
    scores[::seg] = 0.5  # every run keeps one score
    bias, res = rand(n, g=g), rand(n, g=g)
    out = res.clone()
    # block_k 32 < 64: the launcher widens the chunk to whole runs
    cfg = K.GemvConfig(block_n=8, block_k=32, split_k=split, warps=4)
    K.gemv(w, scores, out, scale=scale, bias=bias, add=True, softmax=seg, config=cfg)
    p = torch.softmax(scores.view(heads, seg), dim=-1).view(-1)
    close(out, res + F.linear(p, ref_w, bias))
    with pytest.raises(ValueError, match="softmax"):
        K.gemv(w, scores, out, add=True, softmax=seg + 1, config=cfg)


@pytest.mark.parametrize("block_k", [32, 128, 256])
def test_gemv_int4_groups_of_128_across_blocks(block_k: int) -> None:
    """int4 at the real group size: chunks inside one group (32 bytes), one group (128) and
    two groups (256) a chunk; LayerNorm, bias and ReLU, then the residual add split over K."""
    g = torch.Generator().manual_seed(12)
    n, k = 20, 1024  # 8 groups of 128 a row, 4 in each half of its packed bytes
    w, scale, ref_w = weights(n, k, "int4", g)
    assert scale.shape == (n, 8) and w.shape == (n, k // 2)
    x = rand(k, g=g, scale=3.0, shift=1.5)
    ln_w, ln_b, bias = rand(k, g=g), rand(k, g=g), rand(n, g=g)
    out = torch.zeros(n, device=DEVICE)
    cfg = K.GemvConfig(block_n=8, block_k=block_k, split_k=1, warps=4)
    K.gemv(w, x, out, scale=scale, bias=bias, ln=(ln_w, ln_b, 1e-5), relu=True, config=cfg)
    close(out, F.relu(F.linear(F.layer_norm(x, (k,), ln_w, ln_b, 1e-5), ref_w, bias)))
    res = rand(n, g=g)
    out = res.clone()
    cfg = K.GemvConfig(block_n=8, block_k=block_k, split_k=2, warps=4)
    K.gemv(w, x, out, scale=scale, bias=bias, add=True, config=cfg)
    close(out, res + F.linear(x, ref_w, bias))
    with pytest.raises(ValueError, match="int4"):
        K.gemv(w, x, out, scale=scale, add=True, softmax=8, config=cfg)


def test_gemv_refuses_relu_with_split_k() -> None:
    x = torch.zeros(64, device=DEVICE)
    with pytest.raises(ValueError, match="activation"):
        K.gemv(torch.zeros(8, 64, device=DEVICE), x, x, relu=True, add=True, config=SMALL)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("pos", [0, 6, 40])
def test_self_attention_reads_keys_up_to_the_device_position(dtype: Any, pos: int) -> None:
    g = torch.Generator().manual_seed(4)
    heads, hd, max_len = 3, 16, 48
    cache = rand(2, heads, max_len, hd, g=g).to(dtype)  # slots past pos hold junk
    q = rand(heads * hd, g=g)
    out = torch.zeros(heads * hd, device=DEVICE)
    K.attend(q, cache[0], cache[1], out, pos=torch.tensor([pos], device=DEVICE))
    n = pos + 1
    ref = F.scaled_dot_product_attention(
        q.view(1, heads, 1, hd), cache[0, :, :n].float()[None], cache[1, :, :n].float()[None]
    )
    close(out, ref.reshape(-1))


@pytest.mark.parametrize("kind", ["f32", "bf16", "int8"])
@pytest.mark.parametrize("pos", [0, 6, 40])
def test_attend_out_is_attention_then_out_proj_added(
    kind: str, pos: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Self-attention and out-proj in one launch: each (head, row block) program adds its
    head's share of W_o's rows; the bias once; int8 row scales on each share."""
    monkeypatch.setattr(K, "ATTN_OUT_ROWS", 16)  # 40 rows: 3 row blocks, the last partial
    g = torch.Generator().manual_seed(12)
    heads, hd, max_len = 3, 16, 48
    d = 40  # W_o [d, heads * hd]: d rows, here not the attention's width (48)
    cache = rand(2, heads, max_len, hd, g=g).to(torch.bfloat16)
    q = rand(heads * hd, g=g)
    w, scale, ref_w = weights(d, heads * hd, kind, g)
    bias, res = rand(d, g=g), rand(d, g=g)
    out = res.clone()
    p = torch.tensor([pos], device=DEVICE)
    K.attend_out(q, cache[0], cache[1], w, out, pos=p, scale=scale, bias=bias, block_t=16)
    n = pos + 1
    a = F.scaled_dot_product_attention(
        q.view(1, heads, 1, hd), cache[0, :, :n].float()[None], cache[1, :, :n].float()[None]
    )
    close(out, res + F.linear(a.reshape(-1), ref_w, bias))


@pytest.mark.parametrize("kind", ["f32", "bf16", "int8"])
@pytest.mark.parametrize(
    "cfg",
    [
        K.FfnConfig(16, 16, 16, 4),
        K.FfnConfig(64, 64, 64, 4),
        K.FfnConfig(16, 16, 16, 4, stagger=True),
        K.FfnConfig(16, 32, 16, 4, group=3),
    ],
    ids=["small-blocks", "one-program", "staggered", "groups-of-3"],
)
def test_ffn_is_layernorm_fc1_relu_fc2_added(kind: str, cfg: Any) -> None:
    """The FFN in one launch: fc2 split over the hidden units (W2 stored transposed, int8
    scales per output), each program's share added atomically into `out`, never into x:
    directly, or summed per group of programs by the last of the group (5 programs in groups
    of 3: the last group is short), twice over the same scratch (its counters reset)."""
    g = torch.Generator().manual_seed(13)
    d, hidden = 40, 72  # neither a multiple of the blocks
    w1, s1, ref_w1 = weights(hidden, d, kind, g)
    w2, s2, ref_w2 = weights(d, hidden, kind, g)
    w2t = w2.t().contiguous()
    x = rand(d, g=g, scale=3.0, shift=1.5)
    ln_w, ln_b, b1, b2 = rand(d, g=g), rand(d, g=g), rand(hidden, g=g), rand(d, g=g)
    keep_x = x.clone()
    scratch = K.ffn_scratch(hidden, d, DEVICE)
    h = F.relu(F.linear(F.layer_norm(x, (d,), ln_w, ln_b, 1e-5), ref_w1, b1))
    assert (h == 0).any() and (h > 0).any()
    for _ in range(2):
        out = torch.zeros(d, device=DEVICE)
        K.ffn(x, out, (ln_w, ln_b, 1e-5), (w1, s1, b1), (w2t, s2, b2), scratch=scratch, config=cfg)
        close(out, x + F.linear(h, ref_w2, b2))
        assert torch.equal(x, keep_x) and not scratch[1].any()
    with pytest.raises(ValueError, match="another vector"):
        K.ffn(x, x, (ln_w, ln_b, 1e-5), (w1, s1, b1), (w2t, s2, b2), config=cfg)


@pytest.mark.parametrize("n", [5, 37, 64])
def test_cross_attention_masks_pads(n: int) -> None:
    g = torch.Generator().manual_seed(5)
    heads, hd, max_src = 2, 32, 64
    cache = rand(2, heads, max_src, hd, g=g).to(torch.bfloat16)
    keep = torch.rand(max_src, generator=g).to(DEVICE) < 0.7
    keep[0] = True
    q = rand(heads * hd, g=g)
    out = torch.zeros(heads * hd, device=DEVICE)
    K.attend(q, cache[0], cache[1], out, keep=keep, n=n)
    ref = F.scaled_dot_product_attention(
        q.view(1, heads, 1, hd),
        cache[0, :, :n].float()[None],
        cache[1, :, :n].float()[None],
        attn_mask=keep[:n].view(1, 1, 1, n),
    )
    close(out, ref.reshape(-1))


@pytest.mark.parametrize("d", [40, 2048])
def test_layer_norm(d: int) -> None:
    g = torch.Generator().manual_seed(10)
    x = rand(d, g=g, scale=3.0, shift=2.0)
    w, b = rand(d, g=g), rand(d, g=g)
    out = torch.zeros(d, device=DEVICE)
    K.layer_norm(x, (w, b, 1e-5), out)
    close(out, F.layer_norm(x, (d,), w, b, 1e-5))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_embed(dtype: Any) -> None:
    g = torch.Generator().manual_seed(6)
    table = rand(50, 40, g=g).to(dtype)
    positions = rand(30, 40, g=g)
    out = torch.zeros(40, device=DEVICE)
    tok, pos = torch.tensor([17], device=DEVICE), torch.tensor([4], device=DEVICE)
    K.embed(table, positions, tok, pos, out, math.sqrt(40), 2)
    ref = table[17].float() * math.sqrt(40) + positions[6]
    close(out, ref)


def test_quantize_rows() -> None:
    g = torch.Generator().manual_seed(7)
    w = rand(20, 33, g=g)
    w[3] = 0
    q, s = quantize_rows(w)
    assert q.dtype == torch.int8 and q.abs().max() <= 127
    assert (q.abs().amax(dim=1)[torch.arange(20) != 3] == 127).all()  # each row uses the range
    err = (dequantize(q, s, torch.float32) - w).abs()
    assert (err <= s[:, None] / 2 + 1e-7).all()  # round to nearest
    assert not q[3].any() and s[3] == 1


def test_quantize_int4_packs_two_columns_a_byte() -> None:
    g = torch.Generator().manual_seed(17)
    n, k = 6, 512
    w = rand(n, k, g=g)
    w[2, 128:256] = 0  # an all-zero group
    w[4, 7] = 40.0  # an outlier: only its own group's scale grows
    q, s = quantize_int4(w)
    assert q.dtype == torch.uint8 and q.shape == (n, k // 2) and s.shape == (n, k // 128)
    v = unpack_int4(q)
    assert v.min() >= -7 and v.max() <= 7  # symmetric: nibble 0 (-8) never written
    # byte j: column j in the low nibble, column j + K/2 in the high one
    assert torch.equal((q[:, 5] & 15).to(torch.int8) - 8, v[:, 5])
    assert torch.equal((q[:, 5] >> 4).to(torch.int8) - 8, v[:, 5 + k // 2])
    err = (dequantize(q, s, torch.float32) - w).abs().view(n, k // 128, 128)
    assert (err <= s.float()[:, :, None] / 2 * (1 + 1e-3) + 1e-7).all()  # round to nearest
    assert not v[2, 128:256].any() and s[2, 1] == 1
    assert s[4, 0] > 5 * s[4, 1]
    # groups use their range: each group's largest |q| is 7
    amax = v.view(n, k // 128, 128).abs().amax(dim=2)
    assert (amax[s != 1] == 7).all()
    # the round trip: quantising the dequantised weight gives the same bytes and scales
    q2, s2 = quantize_int4(dequantize(q, s, torch.float32))
    assert torch.equal(q2, q) and torch.equal(s2, s)


def test_interpreter_flag_matches_the_machine() -> None:
    assert triton_interp.INTERPRET == (not torch.cuda.is_available())


@pytest.mark.parametrize(
    ("fold", "one_launch"),
    [(False, False), (True, False), (True, True)],
    ids=["cross-3-launches-unfused", "cross-folded-fused", "cross-folded-one-launch-layer"],
)
@pytest.mark.parametrize("weights", ["bf16", "int8", "int4"])
def test_fused_loop_on_the_kernels_matches_its_torch_twin(
    weights: str, fold: bool, one_launch: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole fused step on the kernels: same tokens as generate() in float32 (bf16 mode,
    i.e. the model's own float32 weights) and as the same loop on torch ops (int8); the
    cross-attention folded or not on the kernels, never on the twin. With the fold, the FFN
    and the self-attention + out-proj are one launch each, or the whole layer is one launch
    (layer_kernel.py); without, neither."""
    from test_nllb_loop import SENTENCES, reference, wide_model

    from stream_tts.engines.decode import fused_step
    from stream_tts.engines.decode.nllb_loop import NllbLoop

    # the one-launch FFN and attn-out have no int4 path
    fuse = fold and weights != "int4" and not one_launch
    monkeypatch.setattr(fused_step, "FUSE_FFN", fuse)
    monkeypatch.setattr(fused_step, "FUSE_ATTN_OUT", fuse)
    monkeypatch.setattr(fused_step, "PERSISTENT", one_launch)
    if triton_interp.INTERPRET:  # the interpreter pays per program: few, large ones
        monkeypatch.setattr(K, "gemv_config", lambda n, k, **kw: K.GemvConfig(64, 64, 1, 4))

    tok = gm.nllb_tokenizer()
    tok.src_lang = "eng_Latn"
    bos = tok.convert_tokens_to_ids("deu_Latn")
    m = wide_model(tok, 11).to(DEVICE)
    ours = NllbLoop(m, graphs=False, weights=weights, fused=True, kernels="triton", cross_fold=fold)
    twin = NllbLoop(m, graphs=False, weights=weights, fused=True, kernels="torch", cross_fold=False)
    assert ours.reads_pos and not twin.reads_pos
    assert ours.fused is not None and (ours.fused.fold is not None) == fold
    assert ours.fused.fuse_ffn == ours.fused.fuse_attn_out == fuse
    assert (ours.fused.persistent is not None) == one_launch
    for text in SENTENCES[:1]:
        ids = tok(text)["input_ids"]
        got = ours.generate(ids, bos, 12)  # the token chosen by the head's argmax + choose
        assert got == twin.generate(ids, bos, 12)
        if weights == "bf16":
            assert got == reference(m, tok, text, 12)[0]
        ours.record, twin.record = [], []  # the torch choice, on the raw logits
        assert ours.generate(ids, bos, 12) == got
        twin.generate(ids, bos, 12)
        for a, b in zip(ours.record, twin.record, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)


def test_fused_step_is_the_default_where_the_kernels_run() -> None:
    from test_nllb_loop import wide_model

    from stream_tts.engines.decode.nllb_loop import NllbLoop

    m = wide_model(gm.nllb_tokenizer(), 12).to(DEVICE)
    assert (NllbLoop(m, graphs=False).fused is not None) == (DEVICE == "cuda")
    assert NllbLoop(m, graphs=False, fused=False).fused is None


@pytest.mark.parametrize("pos", [0, 3, 9])
@pytest.mark.parametrize("decay", [None, (4, 1.5)])
@pytest.mark.parametrize("rows", [False, True], ids=["vocab", "head-rows"])
def test_head_argmax_and_choose_pick_what_the_torch_choice_picks(
    pos: int, decay: Any, rows: bool
) -> None:
    g = torch.Generator().manual_seed(8 + pos)
    n, k, eos_col = 300, 64, 7
    w, _, _ = weights(n, k, "f32", g)
    x = rand(k, g=g)
    w[45] = w[123] = x / x.norm() * 50  # a tie for the highest score: the first row wins
    ids = torch.randperm(1000, generator=g)[:n].to(DEVICE) if rows else None
    logits = torch.zeros(n, device=DEVICE)
    best = K.new_best(DEVICE)
    small = K.GemvConfig(block_n=16, block_k=32, split_k=1, warps=4)
    for eos_boost in (0.0, 1e3):  # EOS loses, then wins unless held back by min_new
        w[eos_col] = x / x.norm() * eos_boost
        p, min_new = torch.tensor([pos], device=DEVICE), torch.tensor([5], device=DEVICE)
        bos, nxt, tok = (torch.tensor([v], device=DEVICE) for v in (999, -1, -1))
        K.gemv(w, x, logits, argmax=(best, eos_col), config=small)
        K.choose(best, logits, eos_col, p, min_new, bos, nxt, tok, decay=decay, head_ids=ids)
        scores = F.linear(x, w).view(1, -1)  # what NllbLoop._choose does, in torch
        close(logits, scores.view(-1))
        eos = scores[0, eos_col].clone()
        eos = torch.where(torch.tensor(pos) < 5, float("-inf"), eos)
        if decay is not None and pos - decay[0] > 0:
            eos = eos + eos.abs() * (decay[1] ** (pos - decay[0]) - 1)
        scores[0, eos_col] = eos
        want = int(scores.argmax())
        want = int(ids[want]) if ids is not None else want
        want = 999 if pos == 0 else want
        assert int(nxt) == int(tok) == want and int(p) == pos + 1
        assert int(best) == K.KEY_MIN  # reset for the next step


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
@pytest.mark.parametrize("mode", ["launch-each", "ffn-attn-out-fused", "one-launch-layer"])
@pytest.mark.parametrize("weights", ["bf16", "int8", "int4"])
def test_graphs_with_steps_queued_ahead_give_the_eager_tokens(
    weights: str, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CUDA-graph loop, with step i + 1 queued before step i's token is read (overlap) and
    without, gives the eager loop's tokens; forced EOS, early stops and the next sentence;
    a launch per kernel, the fused FFN and attention + out-proj, or a layer a launch."""
    from test_nllb_loop import SENTENCES, wide_model

    from stream_tts.engines.decode import fused_step
    from stream_tts.engines.decode.nllb_loop import NllbLoop

    fuse = mode == "ffn-attn-out-fused"
    if fuse and weights == "int4":
        pytest.skip("the one-launch FFN and attn-out have no int4 path")
    monkeypatch.setattr(fused_step, "FUSE_FFN", fuse)
    monkeypatch.setattr(fused_step, "FUSE_ATTN_OUT", fuse)
    monkeypatch.setattr(fused_step, "PERSISTENT", mode == "one-launch-layer")

    tok = gm.nllb_tokenizer()
    tok.src_lang = "eng_Latn"
    bos = tok.convert_tokens_to_ids("deu_Latn")
    m = wide_model(tok, 13).to(DEVICE)
    eager = NllbLoop(m, graphs=False, pad=True, weights=weights)  # the lengths graphs use
    graphed = NllbLoop(m, graphs=True, weights=weights)
    assert graphed.overlap
    for overlap in (True, False):
        graphed.overlap = overlap
        for text in SENTENCES:
            ids = tok(text)["input_ids"]
            want = eager.generate(ids, bos, 20)
            assert graphed.generate(ids, bos, 20) == want
            steps = graphed.generate_iter(ids, bos, 20)
            assert [next(steps), next(steps)] == want[1:3]
            steps.close()  # a step may still be queued: the next sentence starts clean
        m.generation_config.forced_eos_token_id = m.config.eos_token_id
        graphed.forced_eos = eager.forced_eos = True
        for n in (1, 2, 5):
            ids = tok(SENTENCES[0])["input_ids"]
            assert graphed.generate(ids, bos, n) == eager.generate(ids, bos, n)
        graphed.forced_eos = eager.forced_eos = False
