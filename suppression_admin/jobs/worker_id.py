"""This process's name as a worker: host, pid and a random part (a pid is reused)."""

import os
import secrets
import socket

_ID = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def worker_id() -> str:
    return _ID
