# Hand-written stub of the Rust extension `stream_tts._core`; checked by `mypy.stubtest`.
# This file is the contract between the Rust core and the Python side.

from typing import Final, Literal, Self, final

import numpy as np
import numpy.typing as npt
from typing_extensions import disjoint_base

__version__: Final[str]

# ---------------------------------------------------------------------------------------
# Errors: one hierarchy under StreamTtsError (bad arguments raise ValueError).

class StreamTtsError(Exception): ...
class AudioError(StreamTtsError): ...
class NoAudioDeviceError(AudioError): ...
class DeviceNotFoundError(AudioError): ...

# ---------------------------------------------------------------------------------------
# Ingest: stdin bytes -> typed events.  (rust/src/ingest.rs)

InputFormat = Literal["auto", "stream-json", "text"]
EventKind = Literal["text", "block_end", "message_end", "tool"]

@final
class Event:
    """One thing the parser found that matters for speech.

    kind "text": `text` is a piece of assistant Markdown (a delta or a whole block);
    "block_end": the content block `block` of `message_id` is complete (flush the shaper);
    "message_end": the message is complete; "tool": `text` is a tool name being run.
    """

    @property
    def kind(self) -> EventKind: ...
    @property
    def message_id(self) -> str: ...
    @property
    def block(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def line(self) -> int:
        """1-based number of the input line this event came from."""

@final
class StreamParser:
    def __new__(
        cls,
        input: InputFormat = "auto",
        *,
        speak_tools: bool = False,
        speak_subagents: bool = False,
        max_line_bytes: int = 16 * 1024 * 1024,
        max_depth: int = 128,
    ) -> StreamParser: ...
    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Feed a chunk split anywhere (even inside a UTF-8 character); events of complete lines."""
    def finish(self) -> list[Event]:
        """End of input: parse a last unterminated line and close open messages."""
    @property
    def counters(self) -> dict[str, int]:
        """lines, events, malformed_json, invalid_utf8, too_long, too_deep, unknown_type, ..."""
    def take_warnings(self) -> list[str]:
        """New one-per-kind warning messages since the last call (for the CLI to print)."""

# ---------------------------------------------------------------------------------------
# Speakable text: Markdown -> speech text -> sentences.  (rust/src/text/markdown.rs, segment.rs)

def speakable(markdown: str) -> str:
    """Whole-document Markdown to the text a voice should read (no markup left)."""

@final
class Shaper:
    """Streaming Markdown-to-sentences for one content block."""

    def __init__(self, *, early_fragment: bool = False, min_fragment_words: int = 6) -> None: ...
    def feed(self, text: str) -> list[str]:
        """Append Markdown; return every sentence whose end is now certain."""
    def finish(self) -> list[str]:
        """End of the block: return what is left, then start afresh for the next block."""
    def reset(self) -> None:
        """Drop anything pending (interruption)."""

def split_sentences(text: str) -> list[str]:
    """Whole-text sentence segmentation of plain (already speakable) text."""

# The clause rule (rust/src/text/clause.rs), shared by the text stage, the pipeline and Piper.
CLAUSE_MIN_WORDS: Final[int]
CLAUSE_MAX_BYTES: Final[int]

def split_clauses(text: str, *, min_words: int = ..., max_bytes: int = ...) -> list[str]:
    """Cut a sentence into clauses: at `, ; :`, dashes and brackets where both sides have
    `min_words` words (0: no such cuts), and wherever a piece would be longer than
    `max_bytes` bytes of UTF-8 (at the latest natural break that fits, else the last space,
    else between characters). Pieces are trimmed and never empty; joined with spaces they
    hold every word of `text` in order. Defaults: CLAUSE_MIN_WORDS, CLAUSE_MAX_BYTES."""

def first_clause_end(text: str, *, min_words: int = ...) -> int | None:
    """Character index just past the first clause of `text` that ends at `, ; :` (and a
    space) after at least `min_words` words (default CLAUSE_MIN_WORDS) with more text after
    it; None if there is none yet. The clause rule's cut for text still arriving."""

# ---------------------------------------------------------------------------------------
# The joined text stage: bytes in, sentences out, one FFI crossing per chunk.

@final
class Sentence:
    @property
    def text(self) -> str: ...
    @property
    def message_id(self) -> str: ...
    @property
    def line(self) -> int:
        """1-based number of the input line whose arrival completed this sentence."""
    @property
    def first(self) -> bool:
        """First sentence of its message (a new message starts here)."""
    @property
    def fragment(self) -> bool:
        """An early first clause of a long first sentence, cut at `, ; :` (the clause rule)."""
    @property
    def kind(self) -> Literal["text", "tool"]: ...

@final
class TextPipeline:
    """The whole text stage: bytes in, speakable sentences out, one FFI crossing per chunk."""

    def __new__(
        cls,
        input: InputFormat = "auto",
        *,
        speak_tools: bool = False,
        speak_subagents: bool = False,
        early_fragment: bool = False,
        min_fragment_words: int = 6,
        max_line_bytes: int = 16 * 1024 * 1024,
        max_depth: int = 128,
        speculate: bool = False,
    ) -> TextPipeline: ...
    def feed(self, data: bytes | bytearray | memoryview) -> list[Sentence]: ...
    def finish(self) -> list[Sentence]: ...
    @property
    def counters(self) -> dict[str, int]: ...
    def take_warnings(self) -> list[str]: ...
    def take_guess(self) -> Guess | None:
        """With `speculate`: the sentence whose terminator has arrived but not yet the word
        that makes its end certain (once per guess), else None."""

@final
class Guess:
    @property
    def message_id(self) -> str: ...
    @property
    def text(self) -> str: ...

# ---------------------------------------------------------------------------------------
# Audio output.  (rust/src/audio/)

def monotonic() -> float:
    """The clock used for every audio timestamp: seconds, same clock as time.monotonic()."""

def list_devices() -> list[dict[str, object]]:
    """Output devices: name, description, default (bool), sample_rates, channels, formats, usable
    (bool: a stream opens on it and it is not ALSA's discarding `null`)."""

_Samples = npt.NDArray[np.float32] | npt.NDArray[np.int16]

@disjoint_base
class _SinkBase:
    @property
    def sample_rate(self) -> int:
        """Rate of the samples given to push() (the model's rate)."""
    def push(self, samples: _Samples, *, utterance: int | None = None) -> None:
        """Queue mono samples (contiguous float32 or int16, read in place, no copy in Python).

        With `utterance`, the first sample of this call starts that utterance: its time of
        pickup by the device is recorded. Blocks with the GIL released while the ring is
        full; raises KeyboardInterrupt promptly on Ctrl-C.
        """
    def flush(self) -> None:
        """Drop everything queued; silence within one device period."""
    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything pushed has been played; False on timeout."""
    def utterance_started(self, utterance: int) -> float | None:
        """monotonic() time the utterance's first sample was taken by the device, if yet."""
    def stats(self) -> dict[str, float]:
        """underruns, samples_played, device_errors, buffer_frames, device_rate, ..."""
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *args: object) -> None: ...

@final
class AudioSink(_SinkBase):
    def __new__(
        cls,
        sample_rate: int,
        *,
        device: str | None = None,
        buffer_ms: float = 10.0,
        ring_ms: float = 2000.0,
        device_rate: int | None = None,
        sample_format: Literal["f32", "i16", "i32"] | None = None,
    ) -> AudioSink:
        """Open `device` (default: the system default). The device runs at `sample_rate` when
        it can, else at its default rate with resampling in push(); `device_rate` and
        `sample_format` force the device's rate and sample format."""
    @property
    def device_name(self) -> str: ...
    @property
    def device_rate(self) -> int: ...
    @property
    def buffer_frames(self) -> int:
        """Device buffer size actually obtained, in frames."""

@final
class WavSink(_SinkBase):
    def __new__(cls, path: str, sample_rate: int) -> WavSink: ...

@final
class NullSink(_SinkBase):
    def __new__(cls, sample_rate: int, *, realtime: bool = False) -> NullSink: ...
