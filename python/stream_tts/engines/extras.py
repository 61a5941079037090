"""Optional dependencies: import them lazily, and name the extra to install when missing."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtraError(ImportError):
    """An engine needs a package that the default (light) install leaves out."""


class BrokenExtraError(ImportError):
    """An engine's package is installed but its native library does not load."""


# Built against each other's exact release; a mismatch fails to load with an undefined symbol.
_TORCH_FAMILY = ("torch", "torchaudio", "torchcodec")


def _torch_versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in _TORCH_FAMILY:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    return ", ".join(found) or "none of torch, torchaudio, torchcodec"


def require(module: str, extra: str) -> ModuleType:
    """Import `module`, or fail saying what is missing or which installed library broke."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        raise MissingExtraError(
            f"{e.name or module!r} is not installed; this engine needs the '{extra}' extra "
            f"(from a checkout: bash scripts/setup.sh; from a wheel: "
            f'pip install "stream-tts[{extra}]")'
        ) from e
    except (ImportError, OSError) as e:
        # Installed but broken: typically torchaudio built for another torch release.
        detail = str(e).splitlines()[-1] if str(e) else type(e).__name__
        raise BrokenExtraError(
            f"{module!r} is installed but fails to load ({detail}); installed: "
            f"{_torch_versions()}; these must be the versions in uv.lock "
            f"(bash scripts/setup.sh reinstalls them)"
        ) from e
