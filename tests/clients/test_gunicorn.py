"""The real deployment: gunicorn + uvicorn workers (deploy/gunicorn.conf.py), restarted gracefully
and killed hard, with jobs that survive both."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import numpy as np
import pytest
from PIL import Image
from rasterio.io import MemoryFile

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
STARTUP = "Application startup complete"
SMALL_JOB = {"inputs": {"data": {"collection": "dem"}, "bbox": [0, 40, 20, 50], "width": 256}}
BIG_JOB = {"inputs": {"data": {"collection": "dem"}, "bbox": [-180, -90, 180, 90], "width": 8000}}  # a few seconds


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


@pytest.fixture
def gunicorn(settings, tmp_path, say) -> Iterator:
    """start() -> a ready Gunicorn on fixed data/jobs dirs and port; every instance is killed at teardown."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEODEFERRED_")}
    env.update(GEODEFERRED_PORT=str(port), GEODEFERRED_HOST="127.0.0.1", GEODEFERRED_WORKERS="2",
               GEODEFERRED_DATA_DIR=str(settings.data_dir),  # the session's demo data: built once
               GEODEFERRED_DEM_WIDTH=str(settings.dem_width), GEODEFERRED_JOBS_DIR=str(tmp_path / "jobs"),
               GEODEFERRED_EXECUTOR="process:1", GEODEFERRED_LOG_LEVEL="info",
               # gunicorn 27 puts a control socket at ~/.gunicorn/gunicorn.ctl by default, shared by every
               # gunicorn of the user: keep this one's to itself
               GUNICORN_CMD_ARGS=f"--control-socket {tmp_path / 'gunicorn.ctl'}")
    started: list[Gunicorn] = []
    version = subprocess.run([sys.executable, "-m", "gunicorn", "--version"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    say(f"{version} with uvicorn workers (deploy/gunicorn.conf.py)")

    def start() -> Gunicorn:
        g = Gunicorn(env, port, tmp_path / "gunicorn.log")
        started.append(g)
        g.wait_ready(workers=2)
        return g

    try:
        yield start
    finally:
        for g in started:
            g.kill_group()


def poll_job(url: str, job_id: str, timeout: float, until=("successful", "failed", "dismissed")) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        doc = httpx.get(f"{url}/jobs/{job_id}", timeout=10).json()
        if doc["status"] in until:
            return doc
        assert time.monotonic() < deadline, f"job {job_id} still {doc['status']} after {timeout}s: {doc}"
        time.sleep(0.05)


def submit(url: str, body: dict) -> str:
    r = httpx.post(f"{url}/processes/hillshade/execution", json=body, headers={"Prefer": "respond-async"}, timeout=30)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"{url}/jobs/{r.json()['jobID']}"
    return r.json()["jobID"]


def geotiff_shape(data: bytes) -> tuple[int, int]:
    with MemoryFile(data) as mem, mem.open() as ds:
        assert ds.crs.to_epsg() == 4326
        return ds.width, ds.height


def test_gunicorn_serves_restarts_and_recovers_jobs(gunicorn, tmp_path):
    jobs_dir = tmp_path / "jobs"
    g = gunicorn()
    url = g.url
    assert len(g.workers()) == 2, g.text()[-3000:]

    landing = httpx.get(url + "/", headers={"Accept": "application/json"}, timeout=10)
    assert landing.headers["content-type"].startswith("application/json")
    assert landing.json()["title"] == "geodeferred"
    assert any(l["rel"] == "service-desc" for l in landing.json()["links"])
    page = httpx.get(url + "/", headers={"Accept": "text/html"}, timeout=10)
    assert page.headers["content-type"].startswith("text/html") and "geodeferred" in page.text

    tile = httpx.get(url + "/collections/dem/map/tiles/WebMercatorQuad/3/2/4?algorithm=hillshade&z_factor=30", timeout=60)
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"
    img = np.asarray(Image.open(io.BytesIO(tile.content)))
    assert img.shape[:2] == (256, 256) and img[..., 0].std() > 5

    job = submit(url, SMALL_JOB)
    assert poll_job(url, job, 120)["status"] == "successful"
    result = httpx.get(f"{url}/jobs/{job}/results/result", timeout=30)
    assert result.headers["content-type"] == "image/tiff; application=geotiff"
    assert geotiff_shape(result.content) == (256, 128)

    # graceful restart on the same directories: the job and its result are still there
    assert g.stop(signal.SIGTERM) == 0, g.text()[-3000:]
    g = gunicorn()
    assert len(g.workers()) == 2
    assert httpx.get(f"{url}/jobs/{job}", timeout=10).json()["status"] == "successful"
    assert httpx.get(f"{url}/jobs/{job}/results/result", timeout=30).content == result.content

    # SIGKILL of the whole process group while a job runs: the next start resumes it
    big = submit(url, BIG_JOB)
    running = poll_job(url, big, 120, until=("running", "successful", "failed"))
    assert running["status"] == "running", f"the job ended before it could be interrupted: {running}"
    g.stop(signal.SIGKILL)
    g = gunicorn()
    workers = g.workers()
    assert len(workers) == 2
    done = poll_job(url, big, 240)
    assert done["status"] == "successful", done
    record = json.loads((jobs_dir / "jobs" / big / "job.json").read_text())
    assert record["attempts"] >= 2, record  # finished by a resumed attempt, not by the killed one
    tif = httpx.get(f"{url}/jobs/{big}/results/result", timeout=60)
    assert geotiff_shape(tif.content) == (8000, 4000)
    assert g.workers() == workers  # both workers still alive after the work
    assert g.stop(signal.SIGTERM) == 0
