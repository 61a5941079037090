"""Optional dependencies: import them lazily, and name the extra to install when missing."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtraError(ImportError):
    """An engine needs a package that the default (light) install leaves out."""


def require(module: str, extra: str) -> ModuleType:
    """Import `module`, or fail with the pip command that brings it in."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtraError(
            f"{module!r} is not installed; this engine needs the '{extra}' extra: "
            f'pip install "stream-tts[{extra}]" ({e})'
        ) from e
