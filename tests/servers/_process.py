"""What every server launcher does: pick a free loopback port, wait until the server answers,
and stop it (terminate, then kill if it lingers)."""
from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from typing import Callable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen, failure: Callable[[], str], timeout: float = 30) -> None:
    """Until ready(); RuntimeError(failure()) if the process exits or the time is up first."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(failure())
        time.sleep(0.05)


def stop(*procs: subprocess.Popen, timeout: float = 10) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
