"""A real, throw-away redis-server (Debian's) on loopback for tests.

    with redis_server(tmp_path) as url:         # "redis://127.0.0.1:PORT/0"
        ...
"""
from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    port = _free_port()
    folder = tmp_path / f"redis-{port}"
    folder.mkdir()
    log = open(folder / "redis.log", "ab")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(folder), "--maxmemory", maxmemory, "--maxmemory-policy", "allkeys-lru",
                             "--daemonize", "no"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while not _ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start; see {folder / 'redis.log'}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
