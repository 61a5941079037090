"""The warm daemon (`stream-tts serve`): one voice held loaded, one speech queue for every
agent session, fed by hooks over a private Unix socket and by the transcripts it follows.

    protocol.py  the socket: where it lives, who may talk to it, one JSON line each way
    client.py    the hook and `ctl` side: send a request, start the daemon if none answers
    follow.py    reading what each transcript gained since last time, offsets kept on disk
    server.py    the daemon: accept requests, follow transcripts, speak through the pipeline
"""
