"""Translate ahead of speech: sentence n+1 is translated while sentence n is spoken.

The text stage `put`s each sentence as soon as it is complete; the speech stage `get`s the
translations in the same order. One worker thread runs the translator (models are not safe to
run twice at once). `interrupt()` drops everything queued and stops the sentence in flight.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from stream_tts.engines.base import Translator


@dataclass
class _Item:
    epoch: int
    text: str
    result: str | None = None
    error: BaseException | None = None


class TranslateAhead:
    def __init__(self, translator: Translator) -> None:
        self.translator = translator
        self._todo: queue.Queue[_Item | None] = queue.Queue()
        self._done: queue.Queue[_Item] = queue.Queue()
        self._epoch = 0
        self.dropped = 0  # sentences dropped by interrupt()
        self._worker = threading.Thread(target=self._run, name="translate-ahead", daemon=True)
        self._worker.start()

    def put(self, sentence: str) -> None:
        """Queue a sentence; returns at once."""
        self._todo.put(_Item(self._epoch, sentence))

    def get(self, timeout: float | None = None) -> str:
        """The next translation, in `put` order (blocks; `queue.Empty` after `timeout`)."""
        while True:
            item = self._done.get(timeout=timeout)
            if item.epoch != self._epoch:
                continue  # put before the last interrupt()
            if item.error is not None:
                raise item.error
            return item.result or ""

    def interrupt(self) -> None:
        """Forget every sentence put so far, and stop the one being translated."""
        self._epoch += 1
        try:
            while True:
                if self._todo.get_nowait() is not None:
                    self.dropped += 1
        except queue.Empty:
            pass
        stop = getattr(self.translator, "interrupt", None)
        if stop is not None:
            stop()

    def close(self) -> None:
        self._todo.put(None)
        self._worker.join(timeout=10)

    def _run(self) -> None:
        while (item := self._todo.get()) is not None:
            if item.epoch != self._epoch:
                self.dropped += 1
                continue
            try:
                item.result = self.translator.translate(item.text)
            except Exception as e:  # handed to the reader, who decides
                item.error = e
            self._done.put(item)
