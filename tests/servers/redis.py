"""A real, throw-away redis-server (Debian's) on loopback for tests.

    with redis_server(tmp_path) as url:         # "redis://127.0.0.1:PORT/0"
        ...
"""
from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Iterator

from ._process import free_port, stop, wait_until


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server(tmp_path: Path, maxmemory: str = "64mb") -> Iterator[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        import pytest

        pytest.skip("redis-server is not installed (make system-deps installs Debian's redis-server)")
    port = free_port()
    folder = tmp_path / f"redis-{port}"
    folder.mkdir()
    log = open(folder / "redis.log", "ab")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(folder), "--maxmemory", maxmemory, "--maxmemory-policy", "allkeys-lru",
                             "--daemonize", "no"], stdout=log, stderr=log)
    try:
        wait_until(lambda: _ping(port), proc, lambda: f"redis-server did not start; see {folder / 'redis.log'}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc)
        log.close()
