"""`stream-tts serve` with simulated sessions: transcripts written line by line in Claude
Code's shapes, hook payloads on stdin of the real hook command, a real socket.

The follow logic is checked on a text-only daemon (sentences on its stdout); the voice, the
cold start by a hook, barge-in and the one-voice rule on a daemon speaking to the rig."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_support import stats_lines

from stream_tts.daemon.protocol import receive, send

_FAST_HOOK = "import sys; from stream_tts.__main__ import main; sys.exit(main())"


def fast_hook(
    env: dict[str, str], payload: dict[str, object] | None = None, *args: str
) -> subprocess.CompletedProcess[bytes]:
    """`stream-tts --hook [ARG]` as the agent runs it (the console script's fast path), with
    `payload` as JSON on stdin (Claude Code, Gemini) or none (Codex passes an argument)."""
    return subprocess.run(
        [sys.executable, "-c", _FAST_HOOK, "--hook", *args],
        input=b"" if payload is None else json.dumps(payload).encode(),
        env=env,
        capture_output=True,
        timeout=60,
    )


class Session:
    """A Claude Code session as the daemon sees it: a transcript and hook calls."""

    def __init__(self, env: dict[str, str], transcript: Path, session_id: str = "s1") -> None:
        self.env = env
        self.transcript = transcript
        self.session_id = session_id
        transcript.touch()
        self._n = 0

    def write(self, line: str | bytes) -> None:
        with open(self.transcript, "ab") as f:
            f.write((line if isinstance(line, bytes) else line.encode()) + b"\n")

    def prompt(self, text: str) -> None:
        self.write(json.dumps({"type": "user", "message": {"role": "user", "content": text}}))

    def say(self, text: str, msg: str | None = None) -> None:
        self._n += 1
        content = [{"type": "text", "text": text}]
        message = {"id": msg or f"msg_{self._n}", "role": "assistant", "content": content}
        self.write(json.dumps({"type": "assistant", "message": message, "isSidechain": False}))

    def tool(self, name: str = "Bash") -> None:
        self._n += 1
        use = {"type": "tool_use", "id": f"toolu_{self._n}", "name": name, "input": {"x": 1}}
        message = {"id": f"msg_{self._n}", "role": "assistant", "content": [use]}
        self.write(json.dumps({"type": "assistant", "message": message}))
        result = {"type": "tool_result", "tool_use_id": f"toolu_{self._n}", "content": "ok."}
        self.write(json.dumps({"type": "user", "message": {"role": "user", "content": [result]}}))

    def hook(self, event: str, *args: str) -> subprocess.CompletedProcess[bytes]:
        payload = {
            "hook_event_name": event,
            "session_id": self.session_id,
            "transcript_path": str(self.transcript),
            "cwd": f"/work/{self.session_id}-app",
        }
        argv = ["-m", "stream_tts.cli", "--hook", *args] if args else ["-c", _FAST_HOOK, "--hook"]
        return subprocess.run(
            [sys.executable, *argv],
            input=json.dumps(payload).encode(),
            capture_output=True,
            env=self.env,
            timeout=120,
        )


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    # A short TMPDIR: a Unix socket's path has at most 107 bytes.
    tmp = tempfile.mkdtemp(prefix="st-", dir="/tmp")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    e = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    e |= {"TMPDIR": tmp, "XDG_STATE_HOME": f"{tmp}/state", "STREAM_TTS_CONFIG": os.devnull}
    yield e
    _ctl(e, "quit")
    subprocess.run(["rm", "-rf", tmp], check=False)


def _ctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stream_tts.cli", "ctl", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


class TextDaemon:
    """`stream-tts serve --text-only`: what it would say, one sentence a line, on stdout."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.env = env
        self.out = Path(env["TMPDIR"]) / f"said-{time.monotonic_ns()}.txt"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stream_tts.cli",
                "serve",
                "--text-only",
                "--idle-exit",
                "60",
                *args,
            ],
            stdout=open(self.out, "w"),
            stderr=subprocess.PIPE,
            env=env,
        )
        _wait_for(self._answers, "the daemon to answer")

    def _answers(self) -> bool:
        # Not just the socket file: a killed daemon's stale one may still be there.
        r = _ctl(self.env, "status", "--json")
        return r.returncode == 0 and json.loads(r.stdout)["pid"] == self.proc.pid

    def said(self) -> list[str]:
        return self.out.read_text().splitlines()

    def wait_said(self, n: int, timeout: float = 10) -> list[str]:
        _wait_for(lambda: len(self.said()) >= n, f"{n} sentences (have {self.said()})", timeout)
        return self.said()


def _socket(env: dict[str, str]) -> Path:
    return Path(env["TMPDIR"]) / f"stream-tts-{os.getuid()}" / "daemon.sock"


def _wait_for(cond: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def text_daemon(env: dict[str, str]) -> Iterator[TextDaemon]:
    d = TextDaemon(env)
    yield d
    _ctl(env, "quit")
    d.proc.wait(30)


def test_text_between_tool_calls_is_said_during_the_turn(
    text_daemon: TextDaemon, env: dict[str, str], tmp_path: Path
) -> None:
    s = Session(env, tmp_path / "t.jsonl")
    s.say("An answer from before the daemon knew this session.")
    assert s.hook("SessionStart").returncode == 0
    s.prompt("Fix the build.")
    assert s.hook("UserPromptSubmit").returncode == 0
    s.write(json.dumps({"type": "assistant", "message": {"content": [{"type": "thinking"}]}}))
    s.say("Let me look at the build first.")
    assert text_daemon.wait_said(1) == ["Let me look at the build first."]  # no hook needed
    s.tool()
    assert s.hook("PostToolUse").returncode == 0
    s.say("The linker flags were wrong. I fixed them.")
    said = text_daemon.wait_said(3)
    assert said[1:] == ["The linker flags were wrong.", "I fixed them."]
    assert s.hook("Stop").returncode == 0
    time.sleep(0.3)
    assert text_daemon.said() == said  # Stop after the tail spoke everything: no repeats


def test_sidechains_thinking_tools_and_junk_are_not_said(
    text_daemon: TextDaemon, env: dict[str, str], tmp_path: Path
) -> None:
    s = Session(env, tmp_path / "t.jsonl")
    assert s.hook("SessionStart").returncode == 0
    side = {"id": "m_side", "role": "assistant", "content": [{"type": "text", "text": "Side."}]}
    s.write(json.dumps({"type": "assistant", "message": side, "isSidechain": True}))
    s.write(b"[" * 100_000)  # nesting deeper than any parser
    s.write(b"\xff\xfe not utf-8 {")
    s.write("x" * (5 << 20))  # a huge line, longer than one read
    s.tool()
    s.write('{"type": "assistant", "message": {"content": [{"type": "text", "text": "Cut')
    s.say("Only this.")
    s.write("")
    s.say("And this.")
    assert text_daemon.wait_said(2) == ["Only this.", "And this."]
    time.sleep(0.3)
    assert text_daemon.said() == ["Only this.", "And this."]
    assert _ctl(env, "status").returncode == 0


def test_a_half_written_line_waits_for_its_end(
    text_daemon: TextDaemon, env: dict[str, str], tmp_path: Path
) -> None:
    s = Session(env, tmp_path / "t.jsonl")
    assert s.hook("SessionStart").returncode == 0
    message = {"id": "m1", "role": "assistant", "content": [{"type": "text", "text": "Whole."}]}
    line = json.dumps({"type": "assistant", "message": message}).encode()
    with open(s.transcript, "ab") as f:
        f.write(line[:20])
    time.sleep(0.3)
    with open(s.transcript, "ab") as f:
        f.write(line[20:] + b"\n")
    assert text_daemon.wait_said(1) == ["Whole."]


def test_a_killed_daemon_restarted_repeats_and_loses_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    first = TextDaemon(env)
    s = Session(env, tmp_path / "t.jsonl")
    assert s.hook("SessionStart").returncode == 0
    s.say("One.")
    first.wait_said(1)
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    assert _socket(env).exists()  # left behind: stale
    s.say("Two.")  # written while no daemon runs
    second = TextDaemon(env)
    assert s.hook("PostToolUse").returncode == 0
    s.say("Three.")
    assert second.wait_said(2) == ["Two.", "Three."]
    assert s.hook("Stop").returncode == 0
    time.sleep(0.3)
    assert second.said() == ["Two.", "Three."]
    _ctl(env, "quit")
    second.proc.wait(30)


def test_two_sessions_share_one_queue(
    text_daemon: TextDaemon, env: dict[str, str], tmp_path: Path
) -> None:
    a = Session(env, tmp_path / "a.jsonl", "A")
    b = Session(env, tmp_path / "b.jsonl", "B")
    assert a.hook("SessionStart").returncode == 0
    assert b.hook("SessionStart").returncode == 0
    a.say("Alpha one.")
    time.sleep(0.3)
    b.say("Bravo one.")
    time.sleep(0.3)
    a.say("Alpha two.")
    said = text_daemon.wait_said(5)
    # Each change of speaker is announced by its folder's name (not the first speaker).
    assert said == ["Alpha one.", "B-app:", "Bravo one.", "A-app:", "Alpha two."], said
    status = json.loads(_ctl(env, "status", "--json").stdout)
    assert {x["session"] for x in status["sessions"]} == {"A", "B"}


def test_a_session_unknown_to_the_daemon_says_its_current_answer_at_stop(
    text_daemon: TextDaemon, env: dict[str, str], tmp_path: Path
) -> None:
    s = Session(env, tmp_path / "t.jsonl")
    s.prompt("Old question.")
    s.say("Old answer.")
    s.prompt("New question.")
    s.say("New answer.")
    s.tool()
    s.say("Done.")
    assert s.hook("Stop").returncode == 0
    assert text_daemon.wait_said(2) == ["New answer.", "Done."]


def test_mute_and_unmute(text_daemon: TextDaemon, env: dict[str, str], tmp_path: Path) -> None:
    s = Session(env, tmp_path / "t.jsonl")
    assert s.hook("SessionStart").returncode == 0
    assert _ctl(env, "mute").returncode == 0
    s.say("Not said.")
    time.sleep(0.3)
    assert _ctl(env, "unmute").returncode == 0
    s.say("Said.")
    assert text_daemon.wait_said(1) == ["Said."]


def test_another_uid_is_refused(text_daemon: TextDaemon, env: dict[str, str]) -> None:
    if os.getuid() != 0:
        pytest.skip("connecting as another uid needs root")  # CI runs as root
    path = _socket(env)
    os.chmod(path.parent.parent, 0o755)  # let the other user reach the socket at all
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o666)
    try:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the other user
            os.close(r)
            try:
                os.setgid(12345)
                os.setuid(12345)
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                    c.connect(str(path))
                    with contextlib.suppress(OSError):
                        send(c, {"op": "ctl", "cmd": "quit"})  # refused before it is read
                    os.write(w, json.dumps(receive(c)).encode())
            except BaseException as e:
                os.write(w, json.dumps({"child": repr(e)}).encode())
            finally:
                os._exit(0)
        os.close(w)
        reply = json.loads(os.read(r, 4096) or b"{}")
        os.waitpid(pid, 0)
    finally:
        os.chmod(path.parent, 0o700)
        os.chmod(path.parent.parent, 0o700)
    assert reply == {"ok": False, "error": "refused: another user's connection"}
    assert text_daemon.proc.poll() is None  # still running: the quit was refused


def test_socket_and_files_are_private(text_daemon: TextDaemon, env: dict[str, str]) -> None:
    path = _socket(env)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert (path.parent.stat().st_mode & 0o777) == 0o700


def test_ctl_without_a_daemon_says_so(env: dict[str, str]) -> None:
    r = _ctl(env, "status")
    assert r.returncode == 1
    assert "no daemon is running" in r.stderr and "Traceback" not in r.stderr


def test_a_second_daemon_leaves_the_first_alone(
    text_daemon: TextDaemon, env: dict[str, str]
) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "stream_tts.cli", "serve", "--text-only"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 0
    assert text_daemon.proc.poll() is None
    assert json.loads(_ctl(env, "status", "--json").stdout)["pid"] == text_daemon.proc.pid


# -- a real voice on the rig -----------------------------------------------------------------


@pytest.fixture
def voice_env(audio_rig: object, env: dict[str, str]) -> dict[str, str]:
    return {**env, **{k: os.environ[k] for k in ("ALSA_CONFIG_PATH", "PULSE_SINK")}}


def _records(path: Path) -> list[dict]:
    return stats_lines(path.read_text())[0] if path.exists() else []


def test_cold_hook_starts_the_daemon_which_speaks(
    voice_env: dict[str, str], tmp_path: Path
) -> None:
    stats = tmp_path / "stats.jsonl"
    s = Session(voice_env, tmp_path / "t.jsonl")
    s.prompt("Hello?")
    s.say("Hello from the daemon.")
    r = s.hook("Stop", "--stats", str(stats))  # starts the daemon, waits for its voice
    assert r.returncode == 0, r.stderr.decode()
    _wait_for(lambda: len(_records(stats)) >= 1, "the sentence to play")
    rec = _records(stats)[0]
    assert rec["sentence"] == "Hello from the daemon." and not rec["dropped"]
    assert rec["audio_s"] > 0.5
    s.say("And a second sentence, warm.")
    _wait_for(lambda: len(_records(stats)) >= 2, "the second sentence")  # no hook: followed
    assert json.loads(_ctl(voice_env, "status", "--json").stdout)["state"] == "ready"
    assert _ctl(voice_env, "faster").stdout.strip() == "rate 1.2x"
    _ctl(voice_env, "faster")
    assert json.loads(_ctl(voice_env, "status", "--json").stdout)["rate"] == 1.44
    s.say("And a second sentence, warm.")  # the same again, now 1.44x as fast
    _wait_for(lambda: len(_records(stats)) >= 3, "the third sentence")
    second, third = _records(stats)[1:3]
    assert 0.6 < third["audio_s"] / second["audio_s"] < 0.8, (second, third)
    assert _ctl(voice_env, "pause").returncode == 0
    assert json.loads(_ctl(voice_env, "status", "--json").stdout)["paused"] is True
    assert "paused" in _ctl(voice_env, "status").stdout
    assert _ctl(voice_env, "resume").returncode == 0
    assert _ctl(voice_env, "skip").returncode == 0
    assert json.loads(_ctl(voice_env, "status", "--json").stdout)["paused"] is False


def test_barge_in_stops_the_voice(voice_env: dict[str, str], tmp_path: Path) -> None:
    stats = tmp_path / "stats.jsonl"
    s = Session(voice_env, tmp_path / "t.jsonl")
    assert s.hook("SessionStart", "--stats", str(stats)).returncode == 0
    s.say(" ".join(f"This is sentence {i} of a long answer." for i in range(40)))
    _wait_for(lambda: len(_records(stats)) >= 2, "speech to start")
    s.prompt("Stop, do something else.")
    assert s.hook("UserPromptSubmit").returncode == 0
    time.sleep(2)
    spoken = [r for r in _records(stats) if not r["dropped"]]
    assert len(spoken) < 15, len(spoken)  # 40 sentences would take far longer than this
    s.say("The new answer.")
    _wait_for(
        lambda: any(r["sentence"] == "The new answer." for r in _records(stats)), "new answer"
    )


def test_daemon_without_audio_device_fails_the_hook(env: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "asound.conf"
    empty.write_text("")
    e = env | {"ALSA_CONFIG_PATH": str(empty), "PULSE_SERVER": "unix:/nonexistent"}
    s = Session(e, tmp_path / "t.jsonl")
    s.say("Unheard.")
    r = s.hook("Stop")
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "no audio" in err.lower() and "Traceback" not in err, err
    log = (Path(env["XDG_STATE_HOME"]) / "stream-tts" / "stream-tts.log").read_text()
    assert "no audio" in log.lower()


def test_gemini_after_agent_and_codex_notify_say_their_answer(
    text_daemon: TextDaemon, env: dict[str, str], tmp_path: Path
) -> None:
    gemini = {
        "hook_event_name": "AfterAgent",
        "session_id": "g1",
        "transcript_path": str(tmp_path / "gemini-session.json"),  # Gemini's, not JSONL
        "prompt": "Say hello.",
        "prompt_response": "Gemini says hello.",
    }
    r = fast_hook(env, gemini)
    assert r.returncode == 0, r.stderr.decode()
    assert text_daemon.wait_said(1) == ["Gemini says hello."]
    codex = {
        "type": "agent-turn-complete",
        "thread-id": "t1",
        "turn-id": "1",
        "cwd": "/work/project",
        "input-messages": ["Say hello."],
        "last-assistant-message": "Codex says hello.",
    }
    r = fast_hook(env, None, json.dumps(codex))  # Codex: the JSON as one argument
    assert r.returncode == 0, r.stderr.decode()
    # Another session speaks: its folder's name first (the cue).
    said = text_daemon.wait_said(3)
    assert said == ["Gemini says hello.", "project:", "Codex says hello."]


def test_notifications_are_said_only_when_asked(env: dict[str, str], tmp_path: Path) -> None:
    def notify(s: Session) -> None:
        payload = {
            "hook_event_name": "Notification",
            "session_id": s.session_id,
            "transcript_path": str(s.transcript),
            "message": "Claude needs your permission to use Bash.",
        }
        r = fast_hook(env, payload)
        assert r.returncode == 0, r.stderr.decode()

    quiet = TextDaemon(env)
    s = Session(env, tmp_path / "t.jsonl")
    notify(s)
    s.say("Then this.")
    assert quiet.wait_said(1) == ["Then this."]
    _ctl(env, "quit")
    quiet.proc.wait(30)
    talking = TextDaemon(env, "--speak-notifications")
    notify(s)
    assert talking.wait_said(1) == ["Claude needs your permission to use Bash."]
    _ctl(env, "quit")
    talking.proc.wait(30)


def test_a_transcript_that_does_not_exist_yet_is_followed_once_it_appears(
    text_daemon: TextDaemon, env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "new.jsonl"
    s = Session(env, path)
    path.unlink()  # the session's first hook comes before its first line
    r = s.hook("SessionStart")
    assert r.returncode == 0, r.stderr.decode()
    s.prompt("Hello?")
    s.say("First words.")
    assert text_daemon.wait_said(1) == ["First words."]


def test_a_removed_transcript_does_not_stop_the_others(
    text_daemon: TextDaemon, env: dict[str, str], tmp_path: Path
) -> None:
    a = Session(env, tmp_path / "a.jsonl", "A")
    b = Session(env, tmp_path / "b.jsonl", "B")
    assert a.hook("SessionStart").returncode == 0
    assert b.hook("SessionStart").returncode == 0
    a.transcript.unlink()
    time.sleep(0.2)
    b.say("Still here.")
    assert text_daemon.wait_said(1) == ["Still here."]


def test_a_daemon_killed_mid_sentence_says_the_cut_block_again_after_restart(
    voice_env: dict[str, str], tmp_path: Path
) -> None:
    stats = tmp_path / "stats.jsonl"
    s = Session(voice_env, tmp_path / "t.jsonl")
    assert s.hook("SessionStart", "--stats", str(stats)).returncode == 0
    s.say("The first block is short.")
    _wait_for(lambda: len(_records(stats)) >= 1, "the first block")
    time.sleep(5)  # said to its end, and the daemon has seen it is quiet
    s.say(" ".join(f"Long block sentence {i}." for i in range(12)))
    _wait_for(lambda: len(_records(stats)) >= 2, "the long block to start")
    status = json.loads(_ctl(voice_env, "status", "--json").stdout)
    os.kill(status["pid"], signal.SIGKILL)
    time.sleep(0.3)
    s.say("Written while no daemon runs.")
    before = len(_records(stats))
    r = s.hook("PostToolUse", "--stats", str(stats))  # starts a new daemon
    assert r.returncode == 0, r.stderr.decode()
    _wait_for(
        lambda: any(x["sentence"] == "Written while no daemon runs." for x in _records(stats)),
        "the line written while down",
        timeout=90,
    )
    again = [x["sentence"] for x in _records(stats)[before:]]
    assert again[0] == "Long block sentence 0.", again  # the cut block, from its start
    assert "The first block is short." not in again  # said before the kill: not repeated


def test_barge_in_stops_only_that_sessions_speech(
    voice_env: dict[str, str], tmp_path: Path
) -> None:
    stats = tmp_path / "stats.jsonl"
    a = Session(voice_env, tmp_path / "a.jsonl", "alpha")
    b = Session(voice_env, tmp_path / "b.jsonl", "bravo")
    assert a.hook("SessionStart", "--stats", str(stats)).returncode == 0
    assert b.hook("SessionStart").returncode == 0
    a.say(" ".join(f"Alpha says sentence {i} of a long answer." for i in range(20)))
    _wait_for(lambda: len(_records(stats)) >= 1, "alpha to start speaking")
    b.say("Bravo has one thing to say.")  # queued behind alpha's answer
    time.sleep(0.5)  # read and queued (its cue too)
    a.prompt("Stop, do something else.")
    assert a.hook("UserPromptSubmit").returncode == 0
    _wait_for(
        lambda: any(r["sentence"] == "Bravo has one thing to say." for r in _records(stats)),
        "bravo's sentence",
    )
    time.sleep(1)
    said = [r["sentence"] for r in _records(stats) if not r["dropped"]]
    assert said.count("Bravo has one thing to say.") == 1
    assert "bravo-app:" in said  # the cue of the session that spoke next
    alpha = [s for s in said if s.startswith("Alpha")]
    assert len(alpha) < 6, said  # 20 sentences would take far longer than this
    # Bravo came right after the cut, not after the rest of alpha's answer.
    assert said.index("Bravo has one thing to say.") <= len(alpha) + 2, said
    status = json.loads(_ctl(voice_env, "status", "--json").stdout)
    assert status["barge_in_ms"] is not None and status["barge_in_ms"] >= 0
    latest = status["latencies"][0]
    assert latest["sentence"] == "Bravo has one thing to say."
    assert latest["ttfa_ms"] > 0 and latest["first_ready_ms"] > 0
    # The rig's PulseAudio reports a few ms of buffer between the callback and playback.
    assert 0 < status["device_latency_ms"] < 500
    text = _ctl(voice_env, "status").stdout
    assert "latency" in text and "ms from taking a sample to playing it" in text
    # Alpha's folder name came with the hook that started the daemon, before its voice.
    a.say("Alpha is back.")
    _wait_for(lambda: "Alpha is back." in [r["sentence"] for r in _records(stats)], "alpha")
    said = [r["sentence"] for r in _records(stats) if not r["dropped"]]
    assert said[-2:] == ["alpha-app:", "Alpha is back."], said


def test_faster_applies_from_the_next_sentence_heard(
    voice_env: dict[str, str], tmp_path: Path
) -> None:
    stats = tmp_path / "stats.jsonl"
    s = Session(voice_env, tmp_path / "t.jsonl")
    assert s.hook("SessionStart", "--stats", str(stats)).returncode == 0
    # A long first sentence (no commas: one record), then three short ones, all made at 1x
    # long before they play (synthesis runs ahead into the sink's ring).
    long = (
        "This first sentence is a long one so that it keeps playing for several seconds "
        "while the rate changes and then it goes on a little longer still before it ends."
    )
    s.say(" ".join([long, *(f"This is queued sentence number {i} here." for i in range(3))]))
    _wait_for(lambda: len(_records(stats)) >= 1, "speech to start")
    time.sleep(2.5)  # the rest made by now, at 1x; the first still playing
    assert _ctl(voice_env, "faster").stdout.strip() == "rate 1.2x"
    changed = time.monotonic()
    _wait_for(lambda: len(_records(stats)) >= 4, "all four sentences")
    recs = _records(stats)[:4]
    starts = [r["read_at"] + r["ttfa_ms"] / 1000 for r in recs]
    assert changed < starts[1], (changed, starts)  # it came while the first one played
    # The one playing ended as it began; the next ones, made at 1x, play at 1.2x (1/1.2 =
    # 0.83 of their length; 1.0 if not re-timed). Over two sentences, so that one late
    # device callback on a busy machine (a stall of a few hundred ms) does not decide it.
    assert starts[1] - starts[0] > 0.95 * recs[0]["audio_s"], (starts, recs[0])
    heard = starts[3] - starts[1]
    made = recs[1]["audio_s"] + recs[2]["audio_s"]
    assert 0.74 < heard / made < 0.93, (heard, made, recs[1:3])


_HEAVY = "json socket enum pathlib typing numpy tempfile signal".split()


def test_the_hook_hands_raw_bytes_to_a_running_daemon_without_heavy_imports(
    text_daemon: TextDaemon, env: dict[str, str], tmp_path: Path
) -> None:
    t = tmp_path / "t.jsonl"
    t.touch()
    payload = {"hook_event_name": "SessionStart", "session_id": "s9", "transcript_path": str(t)}
    code = (
        "import sys; from stream_tts.__main__ import main; rc = main(); "
        f"print([m for m in {_HEAVY!r} if m in sys.modules]); sys.exit(rc)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, "--hook"],
        input=json.dumps(payload).encode(),
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().strip() == "[]"  # the daemon parsed it, not the hook
    sessions = json.loads(_ctl(env, "status", "--json").stdout)["sessions"]
    assert [x["session"] for x in sessions] == ["s9"]
    # What the daemon refuses fails the hook with its reason (exit 1, never 2).
    r = fast_hook(env, {"hook_event_name": "Stop"})
    assert r.returncode == 1
    assert "transcript_path" in r.stderr.decode()
    r = subprocess.run(
        [sys.executable, "-c", _FAST_HOOK, "--hook"],
        input=b"{not json",
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 1 and r.stderr.decode().startswith("stream-tts: ")
