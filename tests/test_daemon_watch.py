"""The follow thread's wake-up on transcript writes (daemon/watch.py): real inotify."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from stream_tts.daemon.watch import Watcher

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="inotify is Linux's")


def test_a_write_to_a_watched_transcript_wakes_the_follower(tmp_path: Path) -> None:
    woke = threading.Event()
    w = Watcher(woke.set)
    assert w.available
    t = tmp_path / "t.jsonl"
    t.write_text("")
    w.watch(str(t), os.stat(t).st_ino)
    assert not woke.wait(0.2)  # nothing written yet
    with open(t, "a") as f:
        f.write('{"type": "assistant"}\n')
    assert woke.wait(2)


def test_a_replaced_transcript_is_watched_as_its_new_inode(tmp_path: Path) -> None:
    woke = threading.Event()
    w = Watcher(woke.set)
    t = tmp_path / "t.jsonl"
    t.write_text("old\n")
    w.watch(str(t), os.stat(t).st_ino)
    new = tmp_path / "new.jsonl"
    new.write_text("")
    os.replace(new, t)  # the old inode is gone: the daemon's poll sees the new one
    woke.wait(1)
    woke.clear()
    w.watch(str(t), os.stat(t).st_ino)
    with open(t, "a") as f:
        f.write("x\n")
    assert woke.wait(2)
    w.keep_only(set())  # no longer followed: writes wake nobody
    woke.clear()
    with open(t, "a") as f:
        f.write("y\n")
    assert not woke.wait(0.3)
