"""A real gunicorn + uvicorn-workers deployment (deploy/gunicorn.conf.py) for tests: its own process
group, a log file, readiness once every worker ran the app's startup."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
STARTUP = "Application startup complete"


def gunicorn_env(settings, jobs_dir: Path, port: int, workers: int = 2, control: Path | None = None) -> dict[str, str]:
    """The environment of a gunicorn on the session's demo data (built once) and its own jobs dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEODEFERRED_")}
    env.update(GEODEFERRED_PORT=str(port), GEODEFERRED_HOST="127.0.0.1", GEODEFERRED_WORKERS=str(workers),
               GEODEFERRED_DATA_DIR=str(settings.data_dir), GEODEFERRED_DEM_WIDTH=str(settings.dem_width),
               GEODEFERRED_JOBS_DIR=str(jobs_dir), GEODEFERRED_EXECUTOR="process:1", GEODEFERRED_LOG_LEVEL="info",
               # gunicorn 27 puts a control socket at ~/.gunicorn/gunicorn.ctl by default, shared by every
               # gunicorn of the user: keep this one's to itself
               GUNICORN_CMD_ARGS=f"--control-socket {control or jobs_dir.parent / 'gunicorn.ctl'}")
    return env


class Gunicorn:
    """One gunicorn master (own process group) and its workers, logging to a file."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.url, self.log = f"http://127.0.0.1:{port}", log
        self._log_file = open(log, "ab")
        self._offset = log.stat().st_size  # this instance's part of the log
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "app.asgi:app"],
                                     cwd=ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def text(self) -> str:
        with open(self.log, "rb") as f:
            f.seek(self._offset)
            return f.read().decode(errors="replace")

    def wait_ready(self, workers: int, timeout: float = 240) -> None:
        """Until /conformance answers and every worker has run the app's startup."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"gunicorn exited with {self.proc.returncode}:\n{self.text()[-4000:]}"
            try:
                ok = httpx.get(self.url + "/conformance", timeout=5).status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok and self.text().count(STARTUP) >= workers:
                return
            time.sleep(0.2)
        raise AssertionError(f"gunicorn not ready within {timeout}s:\n{self.text()[-4000:]}")

    def workers(self) -> list[int]:
        """Live direct children of the master (gunicorn forks nothing else)."""
        pids = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                state, ppid = (d / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            except (OSError, IndexError, ValueError):
                continue
            if int(ppid) == self.proc.pid and state not in ("Z", "X"):
                pids.append(int(d.name))
        return sorted(pids)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Signal the master (SIGTERM: graceful) or the whole group (SIGKILL); wait for it."""
        if self.proc.poll() is None:
            try:
                if sig == signal.SIGKILL:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                else:
                    self.proc.send_signal(sig)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
            except ProcessLookupError:
                pass
        self._log_file.close()
        return self.proc.returncode

    def kill_group(self) -> None:
        """Last-resort cleanup: nothing of this process group may outlive the test."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        if not self._log_file.closed:
            self._log_file.close()
