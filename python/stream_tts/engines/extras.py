"""Optional dependencies: import them lazily, and name the extra to install when missing."""

from __future__ import annotations

import importlib
import sys
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


# What transformers imports, when installed, only for features we never run: scikit-learn for a
# ROC curve of assisted generation (transformers < 5.22 imports it with its generation code) and
# SciPy's optimizers for the matching loss of object detectors (imported by its model code).
# librosa brings both into an xtts install. Hidden while transformers is first imported, they
# cost nothing; they import normally afterwards, for whoever needs them.
_UNUSED_BY_TRANSFORMERS = ("sklearn", "scipy")
_TRANSFORMERS = ("transformers", "transformers.modeling_utils", "transformers.generation.utils")


def require_transformers(extra: str) -> ModuleType:
    """`require("transformers", extra)` and its model and generation code, imported without
    the packages of _UNUSED_BY_TRANSFORMERS: None in sys.modules makes them look uninstalled
    to transformers, which then leaves them out. Only where transformers is not imported yet
    (it looks once); a transformers that cannot do without them imports them after all."""
    if "transformers" not in sys.modules:
        hidden = [m for m in _UNUSED_BY_TRANSFORMERS if m not in sys.modules]
        for name in hidden:
            sys.modules[name] = None  # type: ignore[assignment]
        try:
            for module in _TRANSFORMERS:
                importlib.import_module(module)
        except ImportError:
            pass  # imported again below with nothing hidden; require() says what is missing
        finally:
            for name in hidden:
                if name in sys.modules and sys.modules[name] is None:
                    del sys.modules[name]
    for module in _TRANSFORMERS:
        require(module, extra)  # already imported, or imported now with nothing hidden
    return sys.modules["transformers"]
