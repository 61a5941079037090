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

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from stream_tts.daemon.client import hook_request
from stream_tts.daemon.controls import control
from stream_tts.daemon.follow import NOT_YET, Transcripts
from stream_tts.daemon.hook_events import READY_WAIT_S, hook_event
from stream_tts.daemon.playback import PausableSink
from stream_tts.daemon.protocol import (
    ProtocolError,
    peer_uid,
    receive_body,
    receive_header,
    send,
    socket_path,
)
from stream_tts.daemon.speech_queue import SpeechQueue
from stream_tts.daemon.voice import VoiceOpenError, open_voice
from stream_tts.daemon.watch import Watcher
from stream_tts.hook import remove_legacy_pid_file
from stream_tts.hook_input import PAYLOAD_BYTES, HookError, read_payload
from stream_tts.paths import UnsafePathError, log, runtime_dir, shorten
from stream_tts.speaker_lock import LockTimeout, SpeakerLock

POLL_S = 0.02  # transcript polling without inotify: part of append-to-first-sound latency
# With inotify: for transcripts not there yet or replaced, and to see soon what was said (the
# durable offsets move when a sentence starts or the device runs quiet: a moment, not a write).
SAFETY_POLL_S = 0.05
IDLE_EXIT_S = 1800.0
M_ARENA_MAX = -8  # glibc's mallopt parameter


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
        self.transcripts = Transcripts()
        self.lock = threading.Lock()  # transcripts, the queue, the flags below
        self.ready = threading.Event()
        self.error: str | None = None
        self.pipeline: Any = None
        self.queue: SpeechQueue | None = None  # once the pipeline runs
        self.names: dict[str, str] = {}  # session -> its folder's name, for the cue
        self.voice = ""
        self.muted = False
        self.started = time.monotonic()
        self.activity = time.monotonic()
        self.poll_now = threading.Event()
        self.stopping = threading.Event()
        self.barge_in_ms: float | None = None  # the latest barge-in: request to cut
        self._answer_waiting = False  # at start: the voice's warmup was left out

    # -- lifecycle ---------------------------------------------------------------------

    def run(self) -> int:
        _few_malloc_arenas()
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
        sink = stats_file = stats = None
        if self.settings.text_only:  # sentences on stdout, no voice: for tests and tools
            self.voice = "text only"
            self.pipeline = Pipeline(self.settings, text_out=sys.stdout)
        else:
            try:
                SpeakerLock(directory).take_over()
                engine, device, translator = open_voice(
                    self.settings, self.con, waiting=self._text_waiting
                )
            except VoiceOpenError as e:
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
            stats = Stats(out)
            self.voice = engine.name
            sink = PausableSink(device)
            sink.made_at = lambda: float(engine.sentence_rate)  # for ctl faster/slower
            self.pipeline = Pipeline(
                self.settings, engine=engine, sink=sink, translator=translator, stats=stats
            )
        r, w = os.pipe()
        queue = SpeechQueue(w, cue=self.cue, names=self.names)
        queue.stats, queue.sink = stats, sink
        if sink is not None:
            sink.discard = queue.discard  # barge-in in one session among several
        with self.lock:
            self.queue = queue
        self.ready.set()
        how = ", no warmup: an answer was waiting" if self._answer_waiting else ""
        log(f"daemon: ready ({self.voice}) in {time.monotonic() - self.started:.2f} s{how}")
        threading.Thread(target=self._follow, daemon=True).start()
        try:
            self.pipeline.run(r)
        except (DeviceStalled, OSError, _core.AudioError) as e:
            log(f"daemon: the audio device failed: {e}")
            return 1
        finally:
            if sink is not None:
                if self.settings.stats and stats is not None:
                    stats.poll(sink.utterance_started, final=True)
                    stats.write_summary(sink.stats())  # underruns, xruns: --stats
                sink.close()
            if stats_file is not None:
                stats_file.close()
        return 0

    def _text_waiting(self) -> bool:
        """A followed transcript holds text not read yet (a cold start's answer)."""
        with self.lock:
            followed = list(self.transcripts.followed.values())
        for f in followed:
            with contextlib.suppress(OSError):
                if os.stat(f.path).st_size > f.offset:
                    self._answer_waiting = True
        return self._answer_waiting

    def _failed(self, message: str, code: int) -> int:
        self.error = message
        self.ready.set()
        self.con.error(message)
        log(f"daemon: {message}")
        time.sleep(0.5)  # let hooks waiting for the voice read why
        return code

    def shutdown(self, *, now: bool) -> None:
        with self.lock:
            if self.queue is None or self.queue.fd < 0:
                self.stopping.set()
                return
            if now and self.pipeline is not None:
                self.pipeline.cut()
                self.queue.forget_unsaid(self.transcripts.followed)
            self.queue.close()  # end of input: the pipeline finishes and run() returns
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
                req, rest = receive_header(conn)
                if req.get("op") == "hook_raw":  # fast_hook.py: the payload as the agent gave it
                    send(conn, self._hook_raw(conn, req, rest))
                    return
                reply = self.handle(req)
                if reply.pop("wait_ready", False):
                    if not self.ready.wait(READY_WAIT_S):
                        reply = {"ok": False, "error": "the voice is still loading"}
                    elif self.error is not None:
                        reply = {"ok": False, "error": self.error}
                send(conn, reply)
            except (ProtocolError, OSError) as e:
                with contextlib.suppress(OSError):
                    send(conn, {"ok": False, "error": str(e)})

    def _hook_raw(self, conn: socket.socket, req: dict[str, Any], rest: bytes) -> dict[str, Any]:
        size = req.get("size")
        if not isinstance(size, int) or size < 0:
            return {"ok": False, "error": "a hook request without its size"}
        if size > PAYLOAD_BYTES:
            return {"ok": False, "error": f"the hook JSON is larger than {PAYLOAD_BYTES >> 20} MiB"}
        try:
            payload = read_payload(receive_body(conn, rest, size))
        except HookError as e:
            return {"ok": False, "error": str(e)}
        reply = self.handle(hook_request(payload))
        return {"ok": True} if reply.get("ok") else reply

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        self.activity = time.monotonic()
        op = req.get("op")
        try:
            if op == "hook":
                reply = hook_event(self, req)
            elif op == "ctl":
                reply = control(self, str(req.get("cmd")))
            else:
                return {"ok": False, "error": f"unknown request {shorten(str(op), 40)}"}
        except HookError as e:
            return {"ok": False, "error": str(e)}
        except OSError as e:
            return {"ok": False, "error": f"cannot follow the transcript: {e.strerror}"}
        if req.get("wait_ready"):
            reply["wait_ready"] = True
        return reply

    # -- following ---------------------------------------------------------------------

    def _follow(self) -> None:
        watcher = Watcher(self.poll_now.set)
        every = SAFETY_POLL_S if watcher.available else POLL_S
        while not self.stopping.is_set():
            self.poll_now.wait(every)
            self.poll_now.clear()
            with self.lock:
                queue = self.queue
                if queue is None or queue.fd < 0:
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
                        queue.transcript(f, lines)
                        self.activity = time.monotonic()
                moved |= queue.said_through(self.transcripts.followed)
                if moved:
                    self.transcripts.save()
                for f in self.transcripts.followed.values():
                    if f.ino != NOT_YET:
                        watcher.watch(f.path, f.ino)
                watcher.keep_only(set(self.transcripts.followed))
            if self._idle():
                log(f"daemon: idle for {self.idle_exit_s:.0f} s; exiting")
                self.shutdown(now=False)
                return

    def _idle(self) -> bool:
        if time.monotonic() - self.activity < self.idle_exit_s:
            return False
        sink = self.pipeline.sink if self.pipeline is not None else None
        return sink is None or bool(sink.drain(timeout=0))


def _few_malloc_arenas() -> None:
    """glibc gives each thread that allocates its own malloc arena (up to 8 per core); the
    daemon's threads pass numpy buffers between them for days, and the arenas' free space
    fragments: RSS crept ~1 MB a minute in soaks. Two arenas (as MALLOC_ARENA_MAX=2 would)
    keep it flat. Set before the voice's threads start; a no-op off glibc."""
    import ctypes
    import ctypes.util
    import platform

    if platform.libc_ver()[0] != "glibc":
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c") or None).mallopt(M_ARENA_MAX, 2)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(settings: Any, con: Any, options: dict[str, Any]) -> int:
    return Daemon(
        settings,
        con,
        options.get("idle_exit") or IDLE_EXIT_S,
        speak_notifications=bool(options.get("speak_notifications")),
        cue=options.get("cue", "name") != "none",
    ).run()
