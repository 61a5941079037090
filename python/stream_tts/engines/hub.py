"""Model files: a local folder as given, or a Hugging Face hub repo downloaded once and cached.

`ensure_model("facebook/nllb-200-distilled-600M")` looks in the hub cache first (no network),
downloads with huggingface_hub's progress bars only when the files are not there, and without
network fails with a message that names the model and how to pass a local folder instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


class ModelNotFoundError(FileNotFoundError):
    """Neither a local model folder nor a hub repo that could be fetched."""


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

    try:
        path = snapshot_download(name, revision=revision, cache_dir=cache, allow_patterns=patterns)
    except Exception as e:  # network, auth, 404: all end the same way for the user
        raise ModelNotFoundError(
            f"could not download model {name!r} from the Hugging Face hub "
            f"({type(e).__name__}: {e}). Without network, download it elsewhere "
            f"(`hf download {name} --local-dir DIR`) and pass that folder instead of the name."
        ) from e
    return _check_required(Path(path), name, required)


def _check_required(folder: Path, name: str, required: Sequence[str]) -> Path:
    missing = [f for f in required if not (folder / f).exists()]
    if missing:
        raise ModelNotFoundError(
            f"model {name!r} at {folder} lacks {', '.join(missing)}; is it the right model?"
        )
    return folder
