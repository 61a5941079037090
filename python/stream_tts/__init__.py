"""stream-tts: speak what a coding agent writes, as it writes it."""

__all__ = ["__version__"]


def __getattr__(name: str) -> object:
    # Loaded on first use: `stream-tts --hook` runs on every tool call and needs no Rust core.
    if name == "__version__":
        from stream_tts._core import __version__

        return __version__
    raise AttributeError(f"module 'stream_tts' has no attribute {name!r}")
