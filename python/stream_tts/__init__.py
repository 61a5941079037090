"""stream-tts: speak what a coding agent writes, as it writes it."""

from stream_tts._core import __version__

__all__ = ["__version__"]
