"""The CLI when things go wrong: signals, a full disk, a closed stdout, no sound device, no
network, typos in the config file. Each ends with one clear line and keeps what was written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest
from cli_support import stream_tts

LONG_TEXT = b"This answer goes on for a while, so that it can be cut off part of the way. " * 40


def _no_sound_env() -> dict[str, str]:
    """ALSA's default configuration and no sound server: what a machine without a card has."""
    env = {k: v for k, v in os.environ.items() if k not in ("ALSA_CONFIG_PATH", "PULSE_SINK")}
    env["PULSE_SERVER"] = "unix:/nonexistent/stream-tts-test"
    env["STREAM_TTS_CONFIG"] = os.devnull
    return env


def _frames(path: Path) -> int:
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return w.getnframes()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_run_leaves_a_valid_wav(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "cut.wav"
    p = subprocess.Popen(
        [sys.executable, "-m", "stream_tts", "--input", "text", "-o", str(out)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "STREAM_TTS_CONFIG": os.devnull},
        # The CLI keeps an inherited ignored SIGINT or SIGHUP ignored (as under `nohup`): a
        # suite run under nohup would hand that on, and this test is about the handler.
        preexec_fn=lambda: signal.signal(sig, signal.SIG_DFL),
    )
    assert p.stdin is not None and p.stderr is not None
    p.stdin.write(LONG_TEXT + b"\n")
    p.stdin.flush()  # stdin stays open: the run is still going when the signal comes
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if out.exists() and out.stat().st_size > 100_000:  # a few seconds of speech written
            break
        time.sleep(0.05)
    p.send_signal(sig)
    code = p.wait(30)
    err = p.stderr.read().decode()
    assert code == 128 + sig, err
    assert "Traceback" not in err, err
    assert _frames(out) * 2 + 44 >= 100_000  # everything written before the signal is there


def test_end_of_input_at_once_gives_an_empty_valid_wav(tmp_path: Path) -> None:
    out = tmp_path / "empty.wav"
    r = stream_tts("--input", "text", "-o", str(out), stdin=b"")
    assert r.returncode == 0, r.stderr.decode()
    assert _frames(out) == 0


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_disk_stops_the_run_with_one_line() -> None:
    # /dev/full fails every write with ENOSPC, as a full filesystem does.
    r = stream_tts("--input", "text", "-o", "/dev/full", stdin=LONG_TEXT + b"\n")
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert "No space left on device" in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_text_only_with_stdout_closed_is_one_line() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "stream_tts", "--text-only"],
        input=b"Hello there.\n",
        capture_output=False,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),
        env={**os.environ, "STREAM_TTS_CONFIG": os.devnull},
        timeout=60,
    )
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert "stdout is closed" in err and "Traceback" not in err, err


def test_no_sound_device_is_one_line_without_library_noise() -> None:
    env = _no_sound_env()
    r = subprocess.run(
        [sys.executable, "-m", "stream_tts", "--list-devices"],
        capture_output=True,
        env=env,
        timeout=120,
    )
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert "no usable audio output device" in err and "--output FILE.wav" in err, err
    assert "ALSA lib" not in err and "jack" not in err.lower(), err

    r = stream_tts("--input", "text", stdin=b"Hello there.\n", env=env)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert "--output FILE.wav" in err and "ALSA lib" not in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_an_unreachable_hub_fails_at_once_with_the_way_out(tmp_path: Path) -> None:
    # A closed local port stands in for no network: the voice is not cached, and the error
    # must come from the reachability check, not after huggingface_hub's retries.
    env = {
        "HF_ENDPOINT": "http://127.0.0.1:9",
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "",
    }
    r = stream_tts("--voice", "en_US-lessac-medium", "-o", str(tmp_path / "o.wav"), env=env)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert "unreachable" in err and "--voice /path/to/en_US-lessac-medium.onnx" in err, err
    assert "Traceback" not in err and "Retrying" not in err, err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[piper]\nspeakr = 0\n", "[piper] unknown setting 'speakr'"),
        ("[pipr]\nspeaker = 0\n", "unknown table [pipr]"),
        ('[piper]\nseed = "one"\n', "[piper] seed must be int"),
        ("[translate]\nstatic_cache = 1\n", "[translate] static_cache must be bool"),
        ("speed = 9\n", "speed must be in (0, 5]"),
    ],
)
def test_config_mistakes_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    r = stream_tts("--config", str(path), "--text-only", stdin=b"Hi.\n")
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert f"{path}: " in err and message in err and "Traceback" not in err, err


def test_engine_tables_that_are_right_are_taken(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[piper]\nseed = 3\nclause-words = 4\n[translate]\ndevice = "cpu"\n')
    r = stream_tts("--config", str(path), "--text-only", stdin=b"Hi.\n")
    assert r.returncode == 0, r.stderr.decode()


def test_stats_without_a_file_is_a_table_for_people(tmp_path: Path) -> None:
    r = stream_tts(
        "--input",
        "text",
        "-o",
        str(tmp_path / "o.wav"),
        "--stats",
        stdin=b"Hello there. This is the second sentence.\n",
    )
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert "{" not in err, err  # no JSON for people
    assert "2 of 2 sentences spoken" in err and "first audio: median" in err, err
    assert "This is the second sentence." in err, err


def test_a_model_not_downloadable_names_the_option_for_a_folder(tmp_path: Path) -> None:
    pytest.importorskip("transformers", reason="the nllb extra is not installed")
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    r = stream_tts(
        "--translate-to", "de", "--translator", "test-org/not-cached", "-o",
        str(tmp_path / "o.wav"), env=env,
    )  # fmt: skip
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert "test-org/not-cached" in err and "--translator DIR" in err, err
    assert "Traceback" not in err, err


@pytest.mark.parametrize("delay", [0.5, 1.0, 2.0, 4.0])
def test_ctrl_c_at_any_moment_of_start_up_is_exit_130_without_traceback(
    tmp_path: Path, delay: float
) -> None:
    # Whatever it lands in (imports, loading the voice, warm-up, reading): 130, one clean exit.
    # (Not sooner than half a second: inside the interpreter's own start-up, before any of
    # our code runs, CPython itself reports the KeyboardInterrupt.)
    p = subprocess.Popen(
        [sys.executable, "-m", "stream_tts", "--input", "text", "-o", str(tmp_path / "o.wav")],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "STREAM_TTS_CONFIG": os.devnull},
    )
    assert p.stderr is not None
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    code = p.wait(60)
    err = p.stderr.read().decode()
    assert code == 130, err
    assert "Traceback" not in err and "failed" not in err, err
