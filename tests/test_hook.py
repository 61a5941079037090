"""`stream-tts --hook` fed hostile or unlucky input: planted links and directories, special
files, huge and deep transcripts, huge paths, many hooks at once, a speaker deaf to SIGINT,
and a speaker that cannot start."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import stream_tts

from stream_tts.speaker_lock import holder

ANSWER = "They pass now. All forty of them."


def _entry(kind: str, content: object) -> str:
    message: dict[str, object] = {"role": kind, "content": content}
    if kind == "assistant":
        message.update(id=f"msg_{abs(hash(str(content))) % 10**8}", type="message")
    return json.dumps({"type": kind, "message": message, "isSidechain": False})


def _answer_lines(text: str = ANSWER) -> str:
    return (
        _entry("user", "Do the tests pass?")
        + "\n"
        + _entry("assistant", [{"type": "text", "text": text}])
        + "\n"
    )


def _payload(path: str | Path) -> bytes:
    return json.dumps({"session_id": "s", "transcript_path": str(path)}).encode()


@pytest.fixture
def private_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """No XDG_RUNTIME_DIR: the private directory goes under this test's own TMPDIR."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    return {"TMPDIR": str(tmp), "XDG_STATE_HOME": str(tmp_path / "state")}


def _hook(env: dict[str, str], payload: bytes, *args: str, timeout: float = 60):
    full = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"} | env
    return stream_tts("--hook", *args, stdin=payload, env=full, timeout=timeout)


def _one_line(err: bytes) -> str:
    text = err.decode()
    assert "Traceback" not in text, text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# -- the private directory ----------------------------------------------------------------


def test_planted_symlink_is_not_written_through(
    tmp_path: Path, private_env: dict[str, str]
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    private = Path(private_env["TMPDIR"]) / f"stream-tts-{os.getuid()}"
    private.symlink_to(tmp_path)  # the attacker points our directory at the victim's
    (tmp_path / "speaker.lock").symlink_to(victim)
    transcript = tmp_path / "t.jsonl"
    transcript.write_text(_answer_lines())
    for mode in ("daemon", "--no-daemon"):
        r = _hook(private_env, _payload(transcript), *_mode_args(mode))
        assert r.returncode == 1
        assert "not a directory" in _one_line(r.stderr)
    assert victim.read_text() == "precious"


@pytest.mark.parametrize(
    ("mode", "planted", "said"),
    [
        ("--no-daemon", "speaker.ticket", "cannot become the speaker"),
        ("daemon", "daemon.lock", "the daemon did not start"),
    ],
)
def test_planted_link_inside_the_private_dir_is_refused(
    tmp_path: Path, private_env: dict[str, str], mode: str, planted: str, said: str
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    private = Path(private_env["TMPDIR"]) / f"stream-tts-{os.getuid()}"
    private.mkdir(mode=0o700)
    (private / planted).symlink_to(victim)
    transcript = tmp_path / "t.jsonl"
    transcript.write_text(_answer_lines())
    r = _hook(private_env, _payload(transcript), *_mode_args(mode))
    assert r.returncode == 1, r.stderr.decode()
    assert said in _one_line(r.stderr)
    assert victim.read_text() == "precious"


def _mode_args(mode: str) -> list[str]:
    return [mode] if mode.startswith("--") else []


@pytest.mark.parametrize("mode", ["daemon", "--no-daemon"])
@pytest.mark.parametrize("planted", ["other-owner", "open-mode", "file"])
def test_planted_directory_is_reported_not_silent(
    tmp_path: Path, private_env: dict[str, str], planted: str, mode: str
) -> None:
    private = Path(private_env["TMPDIR"]) / f"stream-tts-{os.getuid()}"
    if planted == "file":
        private.write_text("")
    else:
        private.mkdir(mode=0o755 if planted == "open-mode" else 0o700)
        if planted == "other-owner":
            if os.getuid() != 0:
                pytest.skip("chown to another uid needs root")  # runs as root in CI
            os.chown(private, 12345, 12345)
    transcript = tmp_path / "t.jsonl"
    transcript.write_text(_answer_lines())
    r = _hook(private_env, _payload(transcript), *_mode_args(mode))
    assert r.returncode == 1
    line = _one_line(r.stderr)
    assert str(private.name) in line, line
    log = (tmp_path / "state" / "stream-tts" / "stream-tts.log").read_text()
    assert private.name in log


# -- what transcript_path names --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "directory"])
def test_special_files_are_refused_at_once(
    tmp_path: Path, private_env: dict[str, str], kind: str
) -> None:
    if kind == "dev-zero":
        path = Path("/dev/zero")
    elif kind == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)  # no writer: opening it for reading would block forever
    else:
        path = tmp_path
    t0 = time.monotonic()
    r = _hook(private_env, _payload(path), "--text-only", timeout=20)
    assert time.monotonic() - t0 < 10
    assert r.returncode == 1
    assert "not a regular file" in _one_line(r.stderr)


def _limited_hook(env: dict[str, str], payload: bytes, limit: int) -> subprocess.CompletedProcess:
    """The hook under an address-space cap, so a regression fails here, not the machine."""
    full = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"} | env
    full["STREAM_TTS_CONFIG"] = os.devnull

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "stream_tts.cli", "--hook", "--text-only"],
        input=payload,
        capture_output=True,
        env=full,
        timeout=120,
        preexec_fn=cap,
    )


def test_sparse_2gb_transcript_reads_only_its_end(
    tmp_path: Path, private_env: dict[str, str]
) -> None:
    path = tmp_path / "sparse.jsonl"
    with open(path, "wb") as f:
        f.truncate(2 << 30)  # 2 GiB of holes: zeros, no newline
        f.seek(0, os.SEEK_END)
        f.write(b"\n" + _answer_lines().encode())
    r = _limited_hook(private_env, _payload(path), 1 << 30)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert "They pass now." in r.stdout.decode()


def test_deep_nesting_is_skipped(tmp_path: Path, private_env: dict[str, str]) -> None:
    path = tmp_path / "deep.jsonl"
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text(_answer_lines() + deep + "\n" + '{"type": "assistant", "message": ' * 50_000)
    r = _hook(private_env, _payload(path), "--text-only")
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert "Traceback" not in r.stderr.decode()
    assert "They pass now." in r.stdout.decode()


def test_deep_payload_is_one_line(private_env: dict[str, str]) -> None:
    r = _hook(private_env, b"[" * 100_000, "--text-only")
    assert r.returncode == 1
    assert "transcript_path" in _one_line(r.stderr)


@pytest.mark.parametrize("size", [1 << 20, 100 << 20])
def test_huge_path_is_shortened_in_the_message(private_env: dict[str, str], size: int) -> None:
    r = _hook(private_env, _payload("/x" + "y" * size), "--text-only", timeout=120)
    assert r.returncode == 1
    assert len(_one_line(r.stderr)) < 200


# -- one speaker ---------------------------------------------------------------------------


LONG = " ".join(
    f"Sentence number {i} of a long answer that takes a while to say." for i in range(30)
)


@pytest.fixture
def speaking_env(
    audio_rig: object, tmp_path: Path, private_env: dict[str, str]
) -> Iterator[dict[str, str]]:
    yield private_env
    _stop_speaker(private_env)


def _lock_file(env: dict[str, str]) -> Path:
    return Path(env["TMPDIR"]) / f"stream-tts-{os.getuid()}" / "speaker.lock"


def _speaker(env: dict[str, str]) -> int | None:
    path = _lock_file(env)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDWR)
    try:
        return holder(fd)
    finally:
        os.close(fd)


def _stop_speaker(env: dict[str, str]) -> None:
    pid = _speaker(env)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)


def _sink_inputs() -> int:
    out = subprocess.run(
        ["pactl", "list", "short", "sink-inputs"], capture_output=True, text=True, timeout=10
    ).stdout
    sink = os.environ["PULSE_SINK"]
    sinks = subprocess.run(
        ["pactl", "list", "short", "sinks"], capture_output=True, text=True, timeout=10
    ).stdout
    index = next(line.split()[0] for line in sinks.splitlines() if sink in line)
    return sum(1 for line in out.splitlines() if line.split()[1] == index)


@pytest.mark.parametrize("mode", ["daemon", "--no-daemon"])
def test_ten_simultaneous_hooks_give_one_speaker(
    tmp_path: Path, speaking_env: dict[str, str], mode: str
) -> None:
    transcript = tmp_path / "t.jsonl"
    transcript.write_text(_answer_lines(LONG))
    streams: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            streams.append(_sink_inputs())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    hooks = [
        subprocess.Popen(
            [sys.executable, "-m", "stream_tts.cli", "--hook", *_mode_args(mode)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_full_env(speaking_env),
        )
        for _ in range(10)
    ]
    for p in hooks:
        assert p.stdin is not None
        p.stdin.write(_payload(transcript))
        p.stdin.close()
    codes = [p.wait(120) for p in hooks]
    time.sleep(3)  # the speaker plays on after its hook returned
    done.set()
    watcher.join()
    assert codes == [0] * 10, [p.stderr.read() for p in hooks if p.stderr]
    assert max(streams) == 1, streams
    assert 1 in streams[-10:], streams  # one is still speaking the long answer
    assert _speaker(speaking_env) is not None


def _full_env(env: dict[str, str]) -> dict[str, str]:
    return (
        {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
        | env
        | {"STREAM_TTS_CONFIG": os.devnull}
    )


def _ignoring_sigint(env: dict[str, str], transcript: Path, *args: str):
    return subprocess.run(
        [sys.executable, "-m", "stream_tts.cli", "--hook", *args],
        input=_payload(transcript),
        env=_full_env(env),
        capture_output=True,
        timeout=120,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )


def test_a_speaker_ignoring_sigint_is_still_stopped_by_the_next_hook(
    tmp_path: Path, speaking_env: dict[str, str]
) -> None:
    transcript = tmp_path / "t.jsonl"
    transcript.write_text(_answer_lines(LONG))
    first = _ignoring_sigint(speaking_env, transcript, "--no-daemon")
    assert first.returncode == 0, first.stderr.decode()
    old = _speaker(speaking_env)
    assert old is not None
    second = _hook(speaking_env, _payload(transcript), "--no-daemon")
    assert second.returncode == 0, second.stderr.decode()
    new = _speaker(speaking_env)
    assert new is not None and new != old
    assert _state(old) in ("gone", "Z")


def test_a_daemon_started_ignoring_sigint_still_stops_on_it(
    tmp_path: Path, speaking_env: dict[str, str]
) -> None:
    transcript = tmp_path / "t.jsonl"
    transcript.write_text(_answer_lines(LONG))
    first = _ignoring_sigint(speaking_env, transcript)
    assert first.returncode == 0, first.stderr.decode()
    daemon = _speaker(speaking_env)
    assert daemon is not None
    os.kill(daemon, signal.SIGINT)
    deadline = time.monotonic() + 5
    while _state(daemon) not in ("gone", "Z") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _state(daemon) in ("gone", "Z")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


@pytest.mark.parametrize("mode", ["daemon", "--no-daemon"])
def test_speaker_that_cannot_start_fails_the_hook_and_logs(
    tmp_path: Path, private_env: dict[str, str], mode: str
) -> None:
    empty = tmp_path / "asound.conf"
    empty.write_text("")  # ALSA with no devices at all
    transcript = tmp_path / "t.jsonl"
    transcript.write_text(_answer_lines())
    env = private_env | {"ALSA_CONFIG_PATH": str(empty), "PULSE_SERVER": "unix:/nonexistent"}
    r = _hook(env, _payload(transcript), *_mode_args(mode))
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "no audio" in err.lower() and "Traceback" not in err, err
    log = (tmp_path / "state" / "stream-tts" / "stream-tts.log").read_text()
    assert "no audio" in log.lower(), log


@pytest.mark.parametrize("mode", ["daemon", "--no-daemon"])
def test_a_killed_speaker_leaves_nothing_stale(
    tmp_path: Path, speaking_env: dict[str, str], mode: str
) -> None:
    transcript = tmp_path / "t.jsonl"
    transcript.write_text(_answer_lines(LONG))
    legacy = Path(speaking_env["TMPDIR"]) / f"stream-tts-hook-{os.getuid()}.pid"
    legacy.write_text("1")  # what versions before the lock left behind
    r = _hook(speaking_env, _payload(transcript), *_mode_args(mode))
    assert r.returncode == 0, r.stderr.decode()
    old = _speaker(speaking_env)
    assert old is not None
    os.kill(old, signal.SIGKILL)
    # The kernel drops the lock with its holder (tearing a voice's process down can take a
    # moment on a busy machine).
    deadline = time.monotonic() + 5
    while _speaker(speaking_env) is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _speaker(speaking_env) is None
    assert not legacy.exists()
    r = _hook(speaking_env, _payload(transcript), *_mode_args(mode))
    assert r.returncode == 0, r.stderr.decode()
    assert _speaker(speaking_env) not in (None, old)
