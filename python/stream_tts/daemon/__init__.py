"""The warm daemon (`stream-tts serve`): one voice held loaded, one speech queue for every
agent session, fed by hooks over a private Unix socket and by the transcripts it follows.

    protocol.py      the socket: where it lives, who may talk to it, one JSON line each way
    fast_hook.py     the hook with a daemon running: the payload's bytes, stdlib only
    client.py        the hook and `ctl` side: send a request, start the daemon if none answers
    follow.py        reading what each transcript gained since last time, offsets kept on disk
    watch.py         inotify: wake the follower when a transcript is written
    speech_queue.py  the lines fed to the voice, whose each is: durable offsets, barge-in
    playback.py      pause, resume, skip, re-timing and per-session drops around the sink
    voice.py         opening the engine, the device and the translator
    hook_events.py   what each hook event does: follow, catch up, barge in, say
    controls.py      `ctl` commands and status
    server.py        the daemon: accept requests, follow transcripts, speak through the pipeline
"""
