"""`stream-tts serve`: the per-user daemon.

    main thread:    loads the voice, opens the device, then runs the one Pipeline whose
                    input is a pipe: every session's text goes through it, so one voice
                    speaks at a time, first come first served
    accept thread:  one request per connection (a thread each: replies are quick, except a
                    hook that started the daemon and waits for the voice to be ready)
    follow thread:  polls the followed transcripts, writes their new assistant text into
                    the pipe; also ends the daemon once idle

Only one daemon runs per user: it holds `daemon.lock` (speaker_lock.py) for its lifetime, so a
socket file found at start is stale (its daemon died) and is replaced. It also holds the
speaker lock, which stops a speaker left by an older `--hook`.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from stream_tts.daemon.follow import Transcripts
from stream_tts.daemon.playback import PausableSink
from stream_tts.daemon.protocol import ProtocolError, peer_uid, receive, send, socket_path
from stream_tts.hook import remove_legacy_pid_file
from stream_tts.hook_input import HookError
from stream_tts.paths import UnsafePathError, log, runtime_dir, shorten
from stream_tts.rate import clamp
from stream_tts.speaker_lock import LockTimeout, SpeakerLock

POLL_S = 0.02  # transcript polling: the follow part of append-to-first-sample latency
IDLE_EXIT_S = 1800.0
READY_WAIT_S = 60.0
RATE_STEP = 1.2  # ctl faster / slower
QUIET_S = 3.0  # fed nothing this long and the device is idle: all that was fed was said
# Claude Code: these start following a transcript from its end (nothing old is said); every
# other event catches up with it.
FOLLOW_FROM_END = {"SessionStart", "UserPromptSubmit"}
# The user sent a new prompt: what is being said is stale (Gemini CLI: BeforeAgent).
BARGE_IN = {"UserPromptSubmit", "BeforeAgent"}
# Hooks that carry the answer itself (Gemini CLI AfterAgent, Codex CLI notify): said whole.
SAYS_TEXT = {"AfterAgent", "agent-turn-complete"}


class Daemon:
    def __init__(
        self,
        settings: Any,
        con: Any,
        idle_exit_s: float = IDLE_EXIT_S,
        *,
        speak_notifications: bool = False,
        cue: bool = True,
    ) -> None:
        self.settings = settings
        self.con = con
        self.idle_exit_s = idle_exit_s
        self.speak_notifications = speak_notifications
        self.cue = cue
        self.last_session: str | None = None  # whose text was handed on last
        self.projects: dict[str, str] = {}  # session -> its folder's name, for the cue
        self.transcripts = Transcripts()
        self.lock = threading.Lock()  # transcripts, the pipe, the flags below
        self.ready = threading.Event()
        self.error: str | None = None
        self.pipeline: Any = None
        self.voice = ""
        self.muted = False
        self.started = time.monotonic()
        self.activity = time.monotonic()
        self.poll_now = threading.Event()
        self.stopping = threading.Event()
        self._pipe_w = -1
        self.stats: Any = None
        self._fed = 0  # lines written into the pipeline, as its reader numbers them
        self._fed_at = 0.0
        self._unsaid: collections.deque[tuple[int, str, int]] = collections.deque()

    # -- lifecycle ---------------------------------------------------------------------

    def run(self) -> int:
        try:
            directory = runtime_dir()
            path = socket_path()
            daemon_lock = SpeakerLock(directory, "daemon.lock")
        except (UnsafePathError, ProtocolError, OSError) as e:
            self.con.error(str(e))
            log(f"daemon: {e}")
            return 1
        if not daemon_lock.try_acquire():
            self.con.info(f"a daemon already runs (pid {daemon_lock.holder()})")
            return 0
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # stale: we hold the lock, so its daemon is gone
        remove_legacy_pid_file()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is born 0600, never briefly open
        try:
            server.bind(os.fspath(path))
            server.listen(64)
        except OSError as e:
            self.con.error(f"cannot listen on {shorten(path)}: {e.strerror}")
            log(f"daemon: cannot listen on {shorten(path)}: {e.strerror}")
            return 1
        finally:
            os.umask(old)
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        log(f"daemon: listening on {shorten(path)}")
        # Inherited "ignore" (a hook run from a shell that ignores SIGINT) must not make the
        # daemon deaf to Ctrl-C or to a service manager's SIGTERM.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            return self._speak(directory)
        except KeyboardInterrupt:
            if self.pipeline is not None:
                self.pipeline.interrupt_now()
            return 130
        finally:
            self.stopping.set()
            with contextlib.suppress(OSError):
                os.unlink(path)
            with self.lock:
                self.transcripts.save()
            log("daemon: stopped")

    def _speak(self, directory: Path) -> int:
        from stream_tts import _core
        from stream_tts.pipeline import DeviceStalled, Pipeline

        self.settings.input = "stream-json"
        sink = stats_file = None
        if self.settings.text_only:  # sentences on stdout, no voice: for tests and tools
            self.voice = "text only"
            self.pipeline = Pipeline(self.settings, text_out=sys.stdout)
        else:
            try:
                SpeakerLock(directory).take_over()
                engine, sink, translator = _open_voice(self.settings, self.con)
            except _VoiceError as e:
                return self._failed(str(e), e.code)
            except (OSError, UnsafePathError, LockTimeout) as e:
                return self._failed(f"cannot become the speaker: {e}", 1)
            from stream_tts.stats import Stats

            # Always kept: which input line is playing tells which offsets are durable.
            out = None
            if self.settings.stats == "-":
                out = sys.stderr
            elif self.settings.stats:
                out = stats_file = open(self.settings.stats, "a", encoding="utf-8")
            stats = self.stats = Stats(out)
            self.voice = engine.name
            sink = PausableSink(sink)
            self.pipeline = Pipeline(
                self.settings, engine=engine, sink=sink, translator=translator, stats=stats
            )
        r, self._pipe_w = os.pipe()
        self.ready.set()
        log(f"daemon: ready ({self.voice}) in {time.monotonic() - self.started:.2f} s")
        threading.Thread(target=self._follow, daemon=True).start()
        try:
            self.pipeline.run(r)
        except (DeviceStalled, OSError, _core.AudioError) as e:
            log(f"daemon: the audio device failed: {e}")
            return 1
        finally:
            if sink is not None:
                if self.settings.stats and self.stats is not None:
                    self.stats.poll(sink.utterance_started, final=True)
                    self.stats.write_summary(sink.stats())  # underruns, xruns: --stats
                sink.close()
            if stats_file is not None:
                stats_file.close()
        return 0

    def _failed(self, message: str, code: int) -> int:
        self.error = message
        self.ready.set()
        self.con.error(message)
        log(f"daemon: {message}")
        time.sleep(0.5)  # let hooks waiting for the voice read why
        return code

    def shutdown(self, *, now: bool) -> None:
        with self.lock:
            if self._pipe_w < 0:
                self.stopping.set()
                return
            if now and self.pipeline is not None:
                self.pipeline.cut()
                # Told to be quiet: what was cut off is not owed to the next daemon.
                self._unsaid.clear()
                for f in self.transcripts.followed.values():
                    f.durable = -1
            os.close(self._pipe_w)  # end of input: the pipeline finishes and run() returns
            self._pipe_w = -1
            self.stopping.set()

    # -- requests ----------------------------------------------------------------------

    def _accept(self, server: socket.socket) -> None:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=self._serve_one, args=(conn,), daemon=True).start()

    def _serve_one(self, conn: socket.socket) -> None:
        with conn:
            try:
                if peer_uid(conn) != os.getuid():
                    send(conn, {"ok": False, "error": "refused: another user's connection"})
                    return
                conn.settimeout(5)
                reply = self.handle(receive(conn))
                if reply.pop("wait_ready", False):
                    if not self.ready.wait(READY_WAIT_S):
                        reply = {"ok": False, "error": "the voice is still loading"}
                    elif self.error is not None:
                        reply = {"ok": False, "error": self.error}
                send(conn, reply)
            except (ProtocolError, OSError) as e:
                with contextlib.suppress(OSError):
                    send(conn, {"ok": False, "error": str(e)})

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        self.activity = time.monotonic()
        op = req.get("op")
        try:
            if op == "hook":
                reply = self._hook(req)
            elif op == "ctl":
                reply = self._ctl(str(req.get("cmd")))
            else:
                return {"ok": False, "error": f"unknown request {shorten(str(op), 40)}"}
        except HookError as e:
            return {"ok": False, "error": str(e)}
        except OSError as e:
            return {"ok": False, "error": f"cannot follow the transcript: {e.strerror}"}
        if req.get("wait_ready"):
            reply["wait_ready"] = True
        return reply

    def _hook(self, req: dict[str, Any]) -> dict[str, Any]:
        event = str(req.get("hook_event_name") or "Stop")
        if event in SAYS_TEXT or event == "BeforeAgent":
            self._say(req.get("text") if event in SAYS_TEXT else None, cut=event in BARGE_IN)
            return {"ok": True, "followed": False}
        session = str(req.get("session_id") or "")
        cwd = req.get("cwd")
        if isinstance(cwd, str) and cwd.strip("/"):
            self.projects[session] = os.path.basename(cwd.rstrip("/"))
        if event == "Notification" and self.speak_notifications:
            self._say(req.get("text"), cut=False)
        raw = req.get("transcript_path")
        if not isinstance(raw, str) or not raw or "\0" in raw:
            return {"ok": True, "followed": False}  # e.g. a Notification without one
        path = os.path.abspath(os.path.expanduser(raw))
        with self.lock:
            known = path in self.transcripts.followed
            self.transcripts.follow(
                path, str(req.get("session_id") or ""), from_end=event in FOLLOW_FROM_END
            )
            if event in BARGE_IN:
                if known:
                    self.transcripts.skip_to_end(path)
                if self.pipeline is not None:
                    self.pipeline.cut()
        self.poll_now.set()
        return {"ok": True, "followed": True}

    def _cue(self, session: str) -> None:
        """Another session speaks now: say whose it is (its folder's name) first."""
        if self.cue and self.last_session is not None:
            name = self.projects.get(session) or f"session {session[:8]}"
            line = json.dumps({"content": [{"type": "text", "text": f"{name}:"}]})
            self._fed += 1
            _write_all(self._pipe_w, line.encode() + b"\n")
        self.last_session = session

    def _say(self, text: object, *, cut: bool) -> None:
        """Speak a whole answer given in the hook's payload (a short-form line)."""
        with self.lock:
            if cut and self.pipeline is not None:
                self.pipeline.cut()
            if isinstance(text, str) and text.strip() and not self.muted and self._pipe_w >= 0:
                line = json.dumps({"content": [{"type": "text", "text": text}]})
                self._fed += 1
                _write_all(self._pipe_w, line.encode() + b"\n")

    def _ctl(self, cmd: str) -> dict[str, Any]:
        if cmd == "status":
            return {"ok": True, **self.status()}
        with self.lock:
            if cmd in ("stop", "mute") and self.pipeline is not None:
                self.pipeline.cut()
            if cmd in ("mute", "unmute"):
                self.muted = cmd == "mute"
        if cmd in ("pause", "resume", "skip"):
            sink = getattr(self.pipeline, "sink", None)
            if not isinstance(sink, PausableSink):
                return {"ok": False, "error": "no voice to pause"}
            if cmd == "skip":
                sink.skip()
            else:
                getattr(sink, cmd)()
            return {"ok": True}
        if cmd in ("faster", "slower"):
            engine = getattr(self.pipeline, "engine", None)
            if engine is None or not hasattr(engine, "rate"):
                return {"ok": False, "error": "no voice to speed up or slow down"}
            engine.rate = clamp(engine.rate * (RATE_STEP if cmd == "faster" else 1 / RATE_STEP))
            return {"ok": True, "rate": round(engine.rate, 2)}
        if cmd == "quit":
            self.shutdown(now=True)
        elif cmd not in ("stop", "mute", "unmute"):
            return {"ok": False, "error": f"unknown command {shorten(cmd, 40)}"}
        return {"ok": True}

    def status(self) -> dict[str, Any]:
        state = "failed" if self.error else "ready" if self.ready.is_set() else "loading"
        with self.lock:
            sessions = [
                {"session": f.session, "transcript": f.path, "offset": f.offset}
                for f in self.transcripts.followed.values()
            ]
        p = self.pipeline
        return {
            "pid": os.getpid(),
            "state": state,
            "error": self.error,
            "voice": self.voice,
            "muted": self.muted,
            "paused": isinstance(getattr(p, "sink", None), PausableSink) and p.sink.paused,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "idle_exit_s": self.idle_exit_s,
            "sentences": 0 if p is None else p.outcome.sentences,
            "rate": round(getattr(getattr(p, "engine", None), "rate", 1.0), 2),
            "sessions": sessions,
        }

    # -- following ---------------------------------------------------------------------

    def _follow(self) -> None:
        while not self.stopping.is_set():
            self.poll_now.wait(POLL_S)
            self.poll_now.clear()
            with self.lock:
                if self._pipe_w < 0:
                    return
                moved = False
                for f in list(self.transcripts.followed.values()):
                    before = f.offset
                    try:
                        lines = self.transcripts.poll(f)
                    except (OSError, HookError) as e:  # one transcript must not stop the rest
                        self.transcripts.forget(f, str(e))
                        continue
                    moved |= f.offset != before
                    if lines and not self.muted:
                        if f.session != self.last_session:
                            self._cue(f.session)
                        for start, _ in lines:
                            self._fed += 1
                            self._unsaid.append((self._fed, f.path, start))
                        self._fed_at = time.monotonic()
                        _write_all(self._pipe_w, b"".join(line for _, line in lines))
                        self.activity = time.monotonic()
                moved |= self._said_through()
                if moved:
                    self.transcripts.save()
            if self._idle():
                log(f"daemon: idle for {self.idle_exit_s:.0f} s; exiting")
                self.shutdown(now=False)
                return

    def _said_through(self) -> bool:
        """Move each transcript's durable offset past the lines said to their end; True if
        one moved. Sentences play in input order, so once a sentence of input line n has
        started, every line before n has been said; when all is quiet, all of it has."""
        if self.stats is None:
            return False
        sink = self.pipeline.sink
        # Quiet: nothing queued at the device, nothing fed for a while (the last line fed
        # may still be on its way to synthesis), not paused.
        quiet = time.monotonic() - self._fed_at > QUIET_S and not getattr(sink, "paused", 0)
        if self._unsaid and quiet and sink.drain(timeout=0):
            latest = self._fed + 1
        else:
            latest = self._latest_started_line()
        while self._unsaid and self._unsaid[0][0] < latest:
            self._unsaid.popleft()
        durable: dict[str, int] = {}
        for _, path, start in self._unsaid:
            durable.setdefault(path, start)
        moved = False
        for f in self.transcripts.followed.values():
            d = durable.get(f.path, -1)
            if d != f.durable:
                f.durable, moved = d, True
        return moved

    def _latest_started_line(self) -> int:
        records = self.stats.records
        for i in range(len(records) - 1, max(-1, len(records) - 200), -1):
            if records[i].started_at is not None:
                return int(records[i].line)
        return 0

    def _idle(self) -> bool:
        if time.monotonic() - self.activity < self.idle_exit_s:
            return False
        sink = self.pipeline.sink if self.pipeline is not None else None
        return sink is None or bool(sink.drain(timeout=0))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class _VoiceError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _open_voice(settings: Any, con: Any) -> tuple[Any, Any, Any]:
    """The engine, the device and the translator of `settings`, warmed up."""
    from stream_tts import _core
    from stream_tts.engines.piper import VoiceError
    from stream_tts.pipeline import RING_MS
    from stream_tts.registry import create_speech_engine, create_translator

    try:
        translator = create_translator(settings)
        engine = create_speech_engine(settings)
    except (VoiceError, ValueError, ImportError, OSError, RuntimeError) as e:
        raise _VoiceError(str(e), 2) from None
    sink: _core.WavSink | _core.AudioSink
    try:
        if settings.output:
            sink = _core.WavSink(settings.output, engine.sample_rate)
        else:
            sink = _core.AudioSink(
                engine.sample_rate,
                device=settings.device,
                buffer_ms=settings.buffer_ms,
                ring_ms=RING_MS,
            )
    except (_core.NoAudioDeviceError, _core.DeviceNotFoundError) as e:
        raise _VoiceError(str(e), 2) from None
    except (_core.AudioError, OSError, ValueError) as e:
        raise _VoiceError(f"cannot open audio output: {e}", 1) from None
    if translator is not None:
        translator.warmup()
    engine.warmup()
    con.info(f"voice {engine.name} ready, {engine.sample_rate} Hz")
    from stream_tts.rate import RateEngine

    return RateEngine(engine, settings.rate), sink, translator  # ctl faster/slower


def serve(settings: Any, con: Any, options: dict[str, Any]) -> int:
    return Daemon(
        settings,
        con,
        options.get("idle_exit") or IDLE_EXIT_S,
        speak_notifications=bool(options.get("speak_notifications")),
        cue=options.get("cue", "name") != "none",
    ).run()
