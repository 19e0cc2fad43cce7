"""Start and stop the two servers under test, each under gunicorn with 2 uvicorn workers.

Both get the same GDAL environment (FIELD-NOTES' recommendations for titiler) and the same
gunicorn worker class, keep-alive and timeout; only the application differs.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from .data import CATALOG, DATA_DIR, JOBS_DIR, ROOT, VAR

GDAL_ENV = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "VSI_CACHE": "TRUE",
}
TITILER_CONF = Path(__file__).with_name("titiler_gunicorn.conf.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen
    log: Path
    probe: str = "/"
    worker_pids: list[int] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """SIGTERM to the gunicorn master we started (it stops its own workers), then wait."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def restart_workers(self, timeout: float = 120) -> float:
        """Fresh worker processes (SIGHUP: gunicorn starts new workers, then stops the old ones):
        empty GDAL caches and dataset handles; the OS page cache stays warm. Returns the seconds
        it took until every new worker answers (fast with preload: the workers are forked)."""
        t0 = time.monotonic()
        old = set(self.worker_pids)
        self.proc.send_signal(signal.SIGHUP)
        expected = len(old)
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited on SIGHUP; see {self.log}")
            kids = {c.pid for c in psutil.Process(self.proc.pid).children()}
            if len(kids) == expected and not kids & old:
                try:
                    if _all_ready(self, self.probe, expected):
                        self.worker_pids = sorted(kids)
                        return time.monotonic() - t0
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: workers not back {timeout:.0f}s after SIGHUP; see {self.log}")


def _base_env(workers: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(GDAL_ENV)
    env["PYTHONPATH"] = str(ROOT)
    env["WEB_CONCURRENCY"] = str(workers)
    return env


def start_ours(workers: int, dem_width: int, extra_env: dict[str, str] | None = None, preload: bool = False) -> Server:
    port = free_port()
    env = _base_env(workers) | (extra_env or {})
    env.update({
        "GEODEFERRED_PORT": str(port),
        "GEODEFERRED_WORKERS": str(workers),
        "GEODEFERRED_DATA_DIR": str(DATA_DIR),
        "GEODEFERRED_JOBS_DIR": str(JOBS_DIR),
        "GEODEFERRED_DEM_WIDTH": str(dem_width),
        "GEODEFERRED_TILE_CACHE_ENTRIES": "0",  # measure tiles, not a cache
        "GEODEFERRED_EXECUTOR": "inline",  # tiles never use the executor; no idle pool processes
        "GEODEFERRED_CATALOG": str(CATALOG),
        "GEODEFERRED_LOG_LEVEL": "warning",
    })
    cmd = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "app.asgi:app"] + _preload(preload)
    return _launch("geodeferred", cmd, env, port, "/conformance")


def start_titiler(workers: int, extra_env: dict[str, str] | None = None, preload: bool = False) -> Server:
    port = free_port()
    env = _base_env(workers) | (extra_env or {})
    env["BENCH_TITILER_BIND"] = f"127.0.0.1:{port}"
    env["BENCH_TITILER_WORKERS"] = str(workers)
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(TITILER_CONF), "bench.titiler_app:app"] + _preload(preload)
    return _launch("titiler", cmd, env, port, "/healthz")


def _preload(on: bool) -> list[str]:
    """--preload: the master imports the application once and forks the workers, so that SIGHUP
    gives fresh workers in a second instead of re-importing everything (each worker still builds
    its own state: our services in the lifespan, GDAL's caches and dataset handles)."""
    return ["--preload"] if on else []


def _launch(name: str, cmd: list[str], env: dict[str, str], port: int, probe: str, timeout: float = 180) -> Server:
    VAR.mkdir(parents=True, exist_ok=True)
    log = VAR / f"{name}.log"
    out = log.open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, port, proc, log, probe)
    deadline = time.monotonic() + timeout
    expected = int(env["WEB_CONCURRENCY"])
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}; see {log}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(server.base + probe, timeout=5).status_code == 200:
                workers = psutil.Process(proc.pid).children()
                if len(workers) >= expected and _all_ready(server, probe, expected):
                    server.worker_pids = [w.pid for w in workers]
                    return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"{name} did not become ready in {timeout:.0f}s; see {log}")


def _all_ready(server: Server, probe: str, expected: int) -> bool:
    """Every worker has finished its startup (lifespan) when a burst of fresh connections all get 200."""
    for _ in range(4 * expected):
        if httpx.get(server.base + probe, timeout=10).status_code != 200:
            return False
    return True
