"""stream-tts: speak what a coding agent writes, as it writes it."""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # Loaded on use: `stream-tts --hook` runs on every tool call and needs no Rust core, and
    # `python -m stream_tts` can report a core that fails to load.
    if name == "__version__":
        from stream_tts._core import __version__

        return __version__
    raise AttributeError(f"module 'stream_tts' has no attribute {name!r}")
