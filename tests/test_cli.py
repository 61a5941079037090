"""The `stream-tts` command: options, config file, text-only mode, errors and exit codes."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from audio_rig import stop_rig
from cli_support import Recorder, pulse_rig, stream_tts
from shared_data import data_file as shared_file

from stream_tts.cli import _cli_values, build_parser
from stream_tts.config import ConfigError, Settings, load_file, merge
from stream_tts.samples import session_path


def _settings(argv: list[str], config: str = "") -> Settings:
    values = load_file(_write(config)) if config else {}
    return merge(values, _cli_values(build_parser().parse_args(argv)))


def _write(text: str) -> Path:
    import tempfile

    f = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    f.write(text)
    f.close()
    return Path(f.name)


# -- arguments and config -----------------------------------------------------------------


def test_help_explains() -> None:
    r = stream_tts("--help")
    assert r.returncode == 0
    out = r.stdout.decode()
    for needle in ("stream-json", "--output FILE.wav", "--text-only", "config.toml", "--voice"):
        assert needle in out, needle


def test_defaults() -> None:
    s = _settings([])
    assert (s.tts, s.voice, s.input, s.early_fragment, s.interrupt) == (
        "piper",
        None,
        "auto",
        True,
        False,
    )


def test_config_file_then_command_line() -> None:
    cfg = 'voice = "en_US-lessac-medium"\nspeed = 1.25\ninterrupt = true\nbuffer-ms = 20\n'
    s = _settings([], cfg)
    assert (s.voice, s.speed, s.interrupt, s.buffer_ms) == ("en_US-lessac-medium", 1.25, True, 20)
    s = _settings(["--speed", "0.8", "--no-interrupt", "--voice", "x.onnx"], cfg)
    assert (s.voice, s.speed, s.interrupt, s.buffer_ms) == ("x.onnx", 0.8, False, 20)


def test_engine_options_from_table_and_flag() -> None:
    s = _settings([], "[piper]\nspeaker = 3\n")
    assert s.engine_options == {"piper": {"speaker": 3}}
    s = _settings(["--piper-speaker", "5"], "[piper]\nspeaker = 3\n")
    assert s.engine_options == {"piper": {"speaker": 5}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 3\n", "unknown setting 'colour'"),
        ('speed = "fast"\n', "speed must be int or float"),
        ("interrupt = 1\n", "interrupt must be bool"),
        ("speed = [\n", "config"),
    ],
)
def test_bad_config_is_named(text: str, message: str) -> None:
    path = _write(text)
    with pytest.raises(ConfigError, match=message.split("'")[0]):
        merge(load_file(path), {})
    r = stream_tts("--config", str(path), "--text-only")
    assert r.returncode == 2
    err = r.stderr.decode()
    assert str(path) in err and "Traceback" not in err, err


def test_bad_values_are_refused() -> None:
    r = stream_tts("--speed", "0", "--text-only")
    assert r.returncode == 2 and "speed" in r.stderr.decode()
    r = stream_tts("--config", "/nonexistent/stream-tts.toml")
    assert r.returncode == 2 and "not found" in r.stderr.decode()


def test_unknown_voice_is_a_clear_error(tmp_path: Path) -> None:
    r = stream_tts("--voice", str(tmp_path / "nope.onnx"), "--output", str(tmp_path / "o.wav"))
    assert r.returncode == 2
    err = r.stderr.decode()
    assert "voice file not found" in err and "Traceback" not in err, err


# -- text-only ----------------------------------------------------------------------------


def _norm(text: str) -> str:
    """expected.json's comparison: lowercase, anything but letters and digits is a space."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def test_text_only_speaks_the_shared_session_in_order() -> None:
    expected = json.loads(shared_file("claude_code_samples/expected.json").read_text())
    r = stream_tts(
        "--text-only", stdin=shared_file("claude_code_samples/session.partial.jsonl").read_bytes()
    )
    assert r.returncode == 0, r.stderr.decode()
    spoken = r.stdout.decode()
    lines = spoken.splitlines()
    assert lines and all(line.strip() for line in lines)
    flat = _norm(spoken)
    pos = 0
    for phrase in expected["must_say_in_order"]:
        at = flat.find(_norm(phrase), pos)
        assert at >= 0, f"{phrase!r} not spoken in order; spoken: {lines}"
        pos = at + len(_norm(phrase))
    for bad in expected["must_not_say"]:
        assert bad.lower() not in spoken.lower(), f"{bad!r} spoken: {lines}"


def test_text_only_full_and_partial_sessions_agree() -> None:
    partial = stream_tts(
        "--text-only", stdin=shared_file("claude_code_samples/session.partial.jsonl").read_bytes()
    )
    full = stream_tts(
        "--text-only", stdin=shared_file("claude_code_samples/session.full.jsonl").read_bytes()
    )
    assert partial.returncode == full.returncode == 0
    assert _norm(partial.stdout.decode()) == _norm(full.stdout.decode())


def test_text_only_plain_text() -> None:
    r = stream_tts(
        "--text-only", "--input", "text", stdin=b"First sentence here. Second one!\nThird.\n"
    )
    assert r.returncode == 0, r.stderr.decode()
    assert _norm(r.stdout.decode()) == "first sentence here second one third"
    assert len(r.stdout.decode().splitlines()) == 3


def test_bundled_sample_is_spoken_without_markup() -> None:
    r = stream_tts("--text-only", stdin=session_path().read_bytes())
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    assert "Let me read the test and the worker loop" in out
    assert "Should I make the change" in out
    for bad in ("**", "`", "##", "https", "](", "|---", "Subagent", "classic race", "def wait"):
        assert bad.lower() not in out.lower(), (bad, out)


def test_text_only_prints_each_sentence_as_soon_as_known() -> None:
    # The first sentence is certain once the next one starts: it must come out then, while
    # the input is still open.
    p = subprocess.Popen(
        [sys.executable, "-m", "stream_tts.cli", "--text-only", "--input", "text"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "STREAM_TTS_CONFIG": os.devnull},
    )
    assert p.stdin is not None and p.stdout is not None
    try:
        p.stdin.write(b"The first sentence is complete. The second\n")
        p.stdin.flush()
        ready, _, _ = select.select([p.stdout], [], [], 30)
        assert ready, "the first sentence did not come out while the input was open"
        assert p.stdout.readline() == b"The first sentence is complete.\n"
        p.stdin.write(b"is not yet.\n")
        p.stdin.close()
        assert _norm(p.stdout.read().decode()) == "the second is not yet"
        assert p.wait(30) == 0
    finally:
        p.kill()


def test_closed_stdout_gives_one_message() -> None:
    sample = session_path().read_bytes()
    # Enough sentences (about 260 kB) to overflow the pipe's buffer: with less, the CLI could
    # write them all before `head` exits and never see the closed pipe.
    r = subprocess.run(
        f"{sys.executable} -m stream_tts.cli --text-only | head -1",
        shell=True,
        input=sample * 400,
        capture_output=True,
        env={**os.environ, "STREAM_TTS_CONFIG": os.devnull},
        timeout=60,
    )
    assert len(r.stdout.splitlines()) == 1
    err = r.stderr.decode().strip().splitlines()
    assert err == ["stream-tts: stdout was closed; stopped reading"], err


def test_malformed_lines_are_counted_and_reported_once() -> None:
    good = session_path().read_bytes()
    bad = b'{"type": "stream_event", "event": {\n' * 3 + b"\xff\xfe not utf8\n"
    r = stream_tts("--text-only", "--input", "stream-json", stdin=bad + good + bad)
    assert r.returncode == 0
    assert "Should I make the change" in r.stdout.decode()
    err = r.stderr.decode()
    assert err.count("malformed input line") == 1, err
    assert "skipped 8 malformed" in err, err


# -- speech to a file ---------------------------------------------------------------------


def test_output_wav(tmp_path: Path) -> None:
    out = tmp_path / "speech.wav"
    stats = tmp_path / "stats.jsonl"
    r = stream_tts(
        "--input",
        "text",
        "--output",
        str(out),
        "--stats",
        str(stats),
        stdin=b"Hello from stream text to speech. This is the second sentence.\n",
    )
    assert r.returncode == 0, r.stderr.decode()
    with wave.open(str(out)) as w:
        assert w.getnchannels() == 1 and w.getframerate() == 22050
        seconds = w.getnframes() / w.getframerate()
    recs = [json.loads(line) for line in stats.read_text().splitlines()]
    summary = recs.pop()
    assert summary["summary"] and summary["sentences"] == 2
    assert [r["sentence"] for r in recs] == [
        "Hello from stream text to speech.",
        "This is the second sentence.",
    ]
    assert abs(sum(r["audio_s"] for r in recs) - seconds) < 0.05
    for rec in recs:
        assert rec["synth_ms"] > 0 and rec["rtf"] > 0 and rec["ttfa_ms"] is not None


def test_speed_option_changes_duration(tmp_path: Path) -> None:
    text = b"Keep fat link time optimization for release builds only.\n"
    durations = []
    for speed in ("1.0", "1.6"):
        out = tmp_path / f"s{speed}.wav"
        # Seeded: VITS draws its durations with noise, so unseeded runs vary (0.755 seen once).
        args = ("--input", "text", "--piper-seed", "1", "--speed", speed, "-o", str(out))
        r = stream_tts(*args, stdin=text)
        assert r.returncode == 0, r.stderr.decode()
        with wave.open(str(out)) as w:
            durations.append(w.getnframes())
    assert 0.5 < durations[1] / durations[0] < 0.75


# -- Claude Code Stop hook ----------------------------------------------------------------


def _entry(kind: str, content: object, **extra: object) -> str:
    message: dict[str, object] = {"role": kind, "content": content}
    if kind == "assistant":
        message.update(id=f"msg_{abs(hash(str(content))) % 10**8}", type="message")
    return json.dumps({"type": kind, "message": message, "isSidechain": False, **extra})


def test_hook_speaks_the_last_answer_only(tmp_path: Path) -> None:
    transcript = tmp_path / "session.jsonl"
    lines = [
        _entry("user", "Why is the build slow?"),
        _entry("assistant", [{"type": "text", "text": "An old answer nobody should hear."}]),
        _entry("user", [{"type": "text", "text": "And the tests?"}]),
        _entry(
            "assistant", [{"type": "thinking", "thinking": "Private thoughts.", "signature": "x"}]
        ),
        _entry("assistant", [{"type": "text", "text": "Let me run them."}]),
        _entry(
            "assistant",
            [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}],
        ),
        _entry("user", [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]),
        _entry("assistant", [{"type": "text", "text": "Sidechain chatter."}], isSidechain=True),
        _entry("assistant", [{"type": "text", "text": "They **pass** now. See `pytest -q`."}]),
        '{"type": "assistant", "message": {"trunc',
    ]
    transcript.write_text("\n".join(lines) + "\n")
    payload = json.dumps({"session_id": "s", "transcript_path": str(transcript)}).encode()
    r = stream_tts("--hook", "--text-only", stdin=payload)
    assert r.returncode == 0, r.stderr.decode()
    spoken = r.stdout.decode()
    assert "Let me run them." in spoken and "They pass now." in spoken, spoken
    for bad in ("old answer", "Private", "Sidechain", "**", "ls"):
        assert bad not in spoken, (bad, spoken)


def test_hook_without_a_payload_says_so() -> None:
    r = stream_tts("--hook", "--text-only", stdin=b"not json")
    assert r.returncode == 1 and "transcript_path" in r.stderr.decode()


# -- a real device: PulseAudio null sink, recorded at its monitor --------------------------


@pytest.fixture
def device(tmp_path: Path) -> Iterator[tuple[dict[str, str], Recorder]]:
    name = f"stream_tts_cli_{os.getpid()}"
    rig, env = pulse_rig(name)
    rec = Recorder(rig.monitor)
    time.sleep(0.3)
    try:
        yield env, rec
    finally:
        rec.stop()
        stop_rig(rig)


def test_plays_to_the_device(device: tuple[dict[str, str], Recorder], tmp_path: Path) -> None:
    env, rec = device
    stats = tmp_path / "stats.jsonl"
    text = b"Hello from the device test. A second sentence follows the first one.\n"
    r = stream_tts("--input", "text", "--stats", str(stats), stdin=text, env=env)
    time.sleep(0.3)
    assert r.returncode == 0, r.stderr.decode()
    records = [json.loads(x) for x in stats.read_text().splitlines()]
    summary = records.pop()
    assert summary["spoken"] == 2 and summary["ttfa_ms_median"] > 0
    for x in records:
        assert x["ttfa_ms"] is not None and 0 < x["ttfa_ms"] < 10_000, x
    loud = rec.loud_times()
    assert loud, "no sound reached the sink"
    heard = loud[-1] - loud[0]
    spoken = sum(x["audio_s"] for x in records)
    # Sound from the first sentence's start to the last one's end (less trailing quiet; plus
    # a gap if the second sentence was not ready in time on a busy machine).
    assert spoken - 0.6 < heard < spoken + 1.0, (heard, spoken)


def test_ctrl_c_silences_at_once(device: tuple[dict[str, str], Recorder]) -> None:
    env, rec = device
    text = b"This is a long answer that goes on for quite a while so that it can be cut off. " * 6
    p = subprocess.Popen(
        [sys.executable, "-m", "stream_tts.cli", "--input", "text"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "STREAM_TTS_CONFIG": os.devnull, **env},
    )
    assert p.stdin is not None
    p.stdin.write(text + b"\n")
    p.stdin.flush()
    deadline = time.monotonic() + 60
    while not rec.loud_times() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rec.loud_times(), "never started playing"
    time.sleep(0.5)
    sent = time.monotonic()
    p.send_signal(signal.SIGINT)
    assert p.wait(10) == 130
    time.sleep(0.5)
    last = max(rec.loud_times())
    # 50 ms, plus up to 20 ms of capture latency in the recorder's timestamps.
    assert last - sent < 0.07, f"sound went on {1000 * (last - sent):.0f} ms after Ctrl-C"


def test_no_audio_device_names_the_way_out(tmp_path: Path) -> None:
    empty = tmp_path / "asound.conf"
    empty.write_text("")  # ALSA with no devices at all
    r = stream_tts("--input", "text", stdin=b"Hello.\n", env={"ALSA_CONFIG_PATH": str(empty)})
    assert r.returncode == 2
    err = r.stderr.decode()
    assert "--output FILE.wav" in err and "Traceback" not in err, err


def test_unknown_device_is_named(device: tuple[dict[str, str], Recorder]) -> None:
    env, _ = device
    r = stream_tts("--device", "no-such-device", stdin=b"Hello.\n", env=env)
    assert r.returncode == 2
    err = r.stderr.decode()
    assert "no-such-device" in err and "--list-devices" in err, err


def test_translation_stage_runs_between_text_and_speech(tmp_path: Path) -> None:
    # A random-weight NLLB-200 of the real architecture (tests/gpu_models.py): what it says is
    # noise, but every sentence must go through it, in order, before it is spoken.
    import gpu_models

    model = gpu_models.save_nllb(tmp_path / "nllb")
    stats = tmp_path / "stats.jsonl"
    r = stream_tts(
        "--input", "text", "--translate-to", "de", "--translator", str(model),
        "--compute-device", "cpu", "-o", str(tmp_path / "o.wav"), "--stats", str(stats),
        stdin=b"Hello there. How are you today?\n",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr.decode()
    records = [json.loads(x) for x in stats.read_text().splitlines()][:-1]
    assert [x["source"] for x in records] == ["Hello there.", "How are you today?"]
    assert all(x["translate_ms"] > 0 for x in records)


def test_missing_gpu_extra_or_bad_language_is_one_message(tmp_path: Path) -> None:
    r = stream_tts("--translate-to", "xx-not-a-language", "-o", str(tmp_path / "o.wav"))
    assert r.returncode == 2
    err = r.stderr.decode()
    assert "xx-not-a-language" in err and "Traceback" not in err, err
