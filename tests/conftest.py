"""Shared pytest fixtures. Audio: a PulseAudio rig with a private null sink (audio_rig.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from audio_rig import Rig, start_rig, stop_rig


@pytest.fixture(scope="session")
def audio_rig() -> Iterator[Rig]:
    """PulseAudio with a null sink, and ALSA's default routed to it, for this session.

    Started here when not running, so `pytest` alone works; fails (never skips) when the rig
    cannot start. ALSA reads ALSA_CONFIG_PATH when a device is opened, so setting it here
    routes every sink opened afterwards in this process (and its children) to the rig.
    """
    try:
        rig = start_rig()
    except (RuntimeError, OSError) as e:
        pytest.fail(f"audio rig unavailable: {e}", pytrace=False)
    saved = {k: os.environ.get(k) for k in rig.env()}
    os.environ.update(rig.env())
    yield rig
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    stop_rig(rig)
