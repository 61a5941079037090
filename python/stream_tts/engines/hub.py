"""Model files: a local folder as given, or a Hugging Face hub repo downloaded once and cached.

`ensure_model("facebook/nllb-200-distilled-600M")` looks in the hub cache first (no network),
downloads with huggingface_hub's progress bars only when the files are not there, and without
network fails with a message that names the model and how to pass a local folder instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def cache_dir(kind: str) -> Path:
    """Where stream-tts keeps what it derives from models (`kind`: a folder per use):
    `$STREAM_TTS_CACHE`, else `$XDG_CACHE_HOME/stream-tts`, else `~/.cache/stream-tts`."""
    base = os.environ.get("STREAM_TTS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "stream-tts"
    )
    return Path(base) / kind


class ModelNotFoundError(FileNotFoundError):
    """Neither a local model folder nor a hub repo that could be fetched."""


# Enough for a TCP handshake to the hub from anywhere; without network the answer is "no"
# within this, instead of huggingface_hub's five retries (23 s measured, issue 12).
_REACH_TIMEOUT_S = 3.0


def offline_reason() -> str | None:
    """Why a download cannot work now (HF_HUB_OFFLINE set, or the hub unreachable), or None."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set"
    import socket
    import threading
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    url = urlsplit(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme != "http" else 80)
    result: list[str | None] = []

    def probe() -> None:  # in a thread: name resolution has no timeout of its own
        try:
            socket.create_connection((host, port), timeout=_REACH_TIMEOUT_S).close()
            result.append(None)
        except OSError as e:
            result.append(f"{host} is unreachable ({e.strerror or e})")

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(_REACH_TIMEOUT_S + 0.5)
    return result[0] if result else f"{host} did not answer within {_REACH_TIMEOUT_S:.0f} s"


def _looks_like_path(name: str) -> bool:
    # A hub id is `org/name` (or a bare legacy `name`); anything else is meant as a folder.
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def ensure_model(
    repo_id_or_path: str | os.PathLike[str],
    allow_patterns: Sequence[str] | None = None,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    required: Sequence[str] = (),
) -> Path:
    """Return a local folder holding the model's files.

    A path that exists is used as is. Otherwise the name is a hub repo id (`org/name`): the
    cached snapshot is used if present, else it is downloaded (files matching `allow_patterns`
    only). `required` names files the folder must hold (checked for both cases).
    """
    name = os.fspath(repo_id_or_path)
    local = Path(name).expanduser()
    if local.is_dir():
        return _check_required(local, name, required)
    if local.exists() or _looks_like_path(name):
        raise ModelNotFoundError(
            f"model folder {name!r} does not exist (or is not a folder); give a folder holding "
            "the model's files, or a Hugging Face repo id like 'org/name'"
        )

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    patterns = list(allow_patterns) if allow_patterns is not None else None
    cache = os.fspath(cache_dir) if cache_dir is not None else None
    try:
        path = snapshot_download(
            name,
            revision=revision,
            cache_dir=cache,
            allow_patterns=patterns,
            local_files_only=True,
        )
        return _check_required(Path(path), name, required)
    except (LocalEntryNotFoundError, ModelNotFoundError):
        pass  # not (fully) cached yet: download below

    if (why := offline_reason()) is not None:
        raise ModelNotFoundError(
            f"model {name!r} is not in the hub cache and cannot be downloaded: {why}"
        )
    try:
        path = snapshot_download(name, revision=revision, cache_dir=cache, allow_patterns=patterns)
    except Exception as e:  # network, auth, 404: all end the same way for the user
        raise ModelNotFoundError(
            f"could not download model {name!r} from the Hugging Face hub "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no detail'})"
        ) from e
    return _check_required(Path(path), name, required)


def _check_required(folder: Path, name: str, required: Sequence[str]) -> Path:
    missing = [f for f in required if not (folder / f).exists()]
    if missing:
        raise ModelNotFoundError(
            f"model {name!r} at {folder} lacks {', '.join(missing)}; is it the right model?"
        )
    return folder
