"""The real deployment: gunicorn + uvicorn workers (deploy/gunicorn.conf.py), restarted gracefully
and killed hard, with jobs that survive both."""
from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from typing import Iterator

import httpx
import numpy as np
import pytest
from PIL import Image
from rasterio.io import MemoryFile

from tests.conftest import free_port
from tests.servers.gunicorn import Gunicorn, gunicorn_env

SMALL_JOB = {"inputs": {"data": {"collection": "dem"}, "bbox": [0, 40, 20, 50], "width": 256}}
BIG_JOB = {"inputs": {"data": {"collection": "dem"}, "bbox": [-180, -90, 180, 90], "width": 8000}}  # a few seconds


@pytest.fixture
def gunicorn(settings, tmp_path, say) -> Iterator:
    """start() -> a ready Gunicorn on fixed data/jobs dirs and port; every instance is killed at teardown."""
    port = free_port()
    env = gunicorn_env(settings, tmp_path / "jobs", port, control=tmp_path / "gunicorn.ctl")
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
