"""XTTS's token choice as tensor operations that run inside a CUDA graph.

The same distribution as transformers' processors in the order coqui's stream applies them
(repetition penalty, temperature, top-k, top-p), then a draw: argmax of p / E with E ~ Exp(1)
picks index i with probability p_i (as multinomial does), using only the generator's
graph-safe random numbers.
"""

from __future__ import annotations

from typing import Any

NEG_INF = float("-inf")


def processed_scores(
    logits: Any,
    seen: Any,
    *,
    repetition_penalty: float,
    temperature: float,
    top_k: int,
    top_p: float,
) -> Any:
    """[1, V] float32 scores after the processors; `seen` is a [V] bool mask of used tokens."""
    import torch

    s = logits
    if repetition_penalty != 1.0:
        penalized = torch.where(s < 0, s * repetition_penalty, s / repetition_penalty)
        s = torch.where(seen, penalized, s)
    if temperature != 1.0:
        s = s / temperature
    if 0 < top_k < s.shape[-1]:
        kth = torch.topk(s, top_k, dim=-1).values[..., -1:]
        s = s.masked_fill(s < kth, NEG_INF)
    if top_p < 1.0:
        ordered, order = torch.sort(s, dim=-1, descending=False)
        cum = ordered.softmax(dim=-1).cumsum(dim=-1)
        drop = cum <= (1 - top_p)
        drop[..., -1:] = False  # keep at least the most likely token
        s = s.masked_fill(drop.scatter(-1, order, drop), NEG_INF)
    return s


def draw(scores: Any, sample: bool) -> Any:
    """One token id per row: sampled from softmax(scores), or the argmax."""
    import torch

    if not sample:
        return scores.argmax(dim=-1)
    probs = scores.softmax(dim=-1)
    noise = torch.empty_like(probs).exponential_(1.0)
    return (probs / noise).argmax(dim=-1)
