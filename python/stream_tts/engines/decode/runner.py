"""One thread per engine for its GPU work, and CUDA graphs captured on it.

A CUDA graph replays what was captured on the stream it is launched on; torch's compiled graphs
(cudagraph trees) also keep per-thread state, so graphs captured on the main thread during the
warm-up and replayed on the pipeline's translation thread failed there. Here every call that
touches the graphs runs on the engine's own thread, so capture and replay always share it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class GpuThread:
    """Runs submitted calls one at a time on a single daemon thread, in order."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, fut = job
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as e:  # handed to the caller, raised there
                fut.set_exception(e)

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the thread and return its result (its exception is raised here)."""
        if threading.current_thread() is self._thread:
            return fn()
        return self.submit(fn).result()

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Queue `fn` to run on the thread; its Future holds the result or exception."""
        fut: Future[T] = Future()
        self._jobs.put((fn, fut))
        return fut

    def use_stream(self, priority: int) -> None:
        """Run this thread's later GPU work on a CUDA stream of its own with `priority` (lower
        is more urgent; out of range is clamped), once everything queued so far on the device
        is done (tensors made on other threads' streams are ready). Kernels of an urgent
        stream go first when another thread's work waits beside them: XTTS's steps before
        NLLB's when speech starts while the rest of a sentence is still being translated."""

        def switch() -> None:
            import torch

            torch.cuda.synchronize()
            torch.cuda.set_stream(torch.cuda.Stream(priority=priority))  # type: ignore[no-untyped-call]

        self.call(switch)

    def close(self) -> None:
        self._jobs.put(None)


class StepGraphs:
    """CUDA graphs of `step(key)`, one per key, captured lazily (on the caller's thread).

    `step` must read and write only tensors allocated before capture (static buffers), so a
    replay recomputes with their current contents. All graphs share one memory pool: they never
    run concurrently, and their results are copied into static buffers.
    """

    def __init__(self, step: Callable[[Any], None], torch: Any, state: list[Any]) -> None:
        self._step = step
        self._torch = torch
        # Small tensors a step changes in place (token, position, ...): the warm-up run before
        # a capture restores them, so a graph captured mid-sentence leaves the sentence as it was.
        self._state = state
        self._graphs: dict[Any, Any] = {}
        self._pool = torch.cuda.graph_pool_handle()

    def __contains__(self, key: Any) -> bool:
        return key in self._graphs

    def capture(self, key: Any) -> None:
        torch = self._torch
        # Warm-up runs on a side stream, as torch asks before capture (lazy init, autotuning).
        saved = [t.clone() for t in self._state]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self._step(key)
        torch.cuda.current_stream().wait_stream(side)
        for t, s in zip(self._state, saved, strict=True):
            t.copy_(s)
        graph = torch.cuda.CUDAGraph()
        # thread_local: a graph captured lazily on one engine's thread (an NLLB sentence longer
        # than the warm-up's) must not fail the other engine's thread, which meanwhile syncs
        # (.item()) and allocates on its own stream; "global" (torch's default) forbids that.
        with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
            self._step(key)
        self._graphs[key] = graph

    def run(self, key: Any) -> None:
        graph = self._graphs.get(key)
        if graph is None:
            self.capture(key)
            graph = self._graphs[key]
        graph.replay()


def bucket(n: int, sizes: tuple[int, ...]) -> int:
    """The smallest of `sizes` that holds `n` (the largest size if none does)."""
    for s in sizes:
        if n <= s:
            return s
    return sizes[-1]


def one_query_attention(q: Any, k: Any, v: Any, mask: Any, torch: Any) -> Any:
    """Attention of one query position over a cache: q [1, H, 1, hd], k/v [1, H, T, hd], mask
    [1, 1, 1, T] (True: attend), softmax in float32. Three plain kernels, the alternative to
    SDPA in decode steps; on an H200 SDPA was faster (benches/gpu_e2e.py `parts` times both)."""
    scores = torch.matmul(q, k.transpose(-1, -2)).float() * (q.shape[-1] ** -0.5)
    weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1).to(v.dtype)
    return torch.matmul(weights, v)
