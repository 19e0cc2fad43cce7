"""Retention: finished jobs' results and stored workflow results expire (then 410 Gone), job
results are bounded in disk (oldest first), and housekeeping runs the whole policy."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from app import housekeeping
from app.main import create_app

from .jobs_util import wait_job

BODY = {"inputs": {"data": {"collection": "dem"}, "bbox": [5, 40, 15, 48], "width": 100}}


@pytest.fixture
def c(settings, tmp_path, jobs_backend):
    with TestClient(create_app(settings.model_copy(update={"jobs_dir": tmp_path, "jobs_backend": jobs_backend}))) as client:
        yield client


def _job(c) -> str:
    url = c.post("/processes/hillshade/execution", json=BODY, headers={"Prefer": "respond-async"}).headers["location"]
    url = url.replace("http://testserver", "")
    assert wait_job(c, url)["status"] == "successful"
    return url


def test_expired_job_results_are_gone(c):
    url = _job(c)
    assert c.get(url + "/results/result").status_code == 200
    s = c.app.state.services
    folder = s.jobs.result_path(url.rsplit("/", 1)[1], "result.tif").parent
    assert s.jobs.expire(timedelta(0)) == [url.rsplit("/", 1)[1]]
    for path in (url + "/results", url + "/results/result"):
        r = c.get(path)
        assert r.status_code == 410 and r.json()["title"] == "Gone", r.text
    st = c.get(url).json()
    assert st["status"] == "successful" and st["message"] == "results expired"
    assert not folder.exists()


def test_results_disk_is_bounded_oldest_first(c):
    first, second = _job(c), _job(c)
    s = c.app.state.services
    size = s.jobs.result_path(second.rsplit("/", 1)[1], "result.tif").stat().st_size
    assert s.jobs.expire(timedelta(days=1), max_bytes=size) == [first.rsplit("/", 1)[1]]
    assert c.get(first + "/results").status_code == 410
    assert c.get(second + "/results/result").status_code == 200


def test_expired_workflow_result_is_gone_until_stored_again(c):
    post = lambda: c.post("/processes/slope/execution?response=collection",  # noqa: E731
                          json={"inputs": {"data": {"collection": "dem"}}}, follow_redirects=False)
    coll = post().headers["location"].replace("http://testserver", "")
    tile = coll + "/map/tiles/WebMercatorQuad/1/0/0"
    assert c.get(coll).status_code == 200 and c.get(tile).status_code == 200
    s = c.app.state.services
    assert s.graphs.expire(now=time.time() + s.settings.retention_hours * 3600 + 1) == [coll.rsplit("/", 1)[1]]
    for path in (coll, tile, coll + "/coverage?bbox=0,0,10,10&width=20"):
        assert c.get(path).status_code == 410, path
    assert c.get("/collections/0123456789abcdef01234567").status_code == 404  # never stored: not gone
    post()
    assert c.get(tile).status_code == 200


def test_housekeeping_applies_the_policy(settings, tmp_path, jobs_backend):
    s = settings.model_copy(update={"jobs_dir": tmp_path, "retention_hours": 2e-5, "jobs_backend": jobs_backend})  # 72 ms
    with TestClient(create_app(s)) as c:
        url = _job(c)
        time.sleep(0.1)
        housekeeping.run_once(c.app.state.services)
        assert c.get(url + "/results").status_code == 410  # results expired, record kept
        time.sleep(housekeeping.RECORD_LIFE * 0.072)
        housekeeping.run_once(c.app.state.services)
        assert c.get(url).status_code == 404  # record deleted long after
