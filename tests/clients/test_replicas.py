"""Stateless replicas: two gunicorn masters behind a real nginx, sharing a real Redis tile cache
and one backend: files in a shared GEODEFERRED_JOBS_DIR, or a real PostgreSQL (then each replica
has a jobs dir of its own: they share no disk at all). Tiles have the same ETag and bytes from
either replica and are computed once; any replica answers any job; a workflow result stored
through one replica has the same pixels from the other; a process deployed, replaced or deleted
on one is seen by the other; a model trained through one applies through the other; a job whose
replica is killed is resumed by the other."""
from __future__ import annotations

import os
import signal
import time
import uuid
from typing import Iterator

import httpx
import numpy as np
import pytest

from processes.outputs import read_geotiff_bytes
from tests.conftest import free_port
from tests.servers.nginx import nginx_server
from tests.servers.redis import redis_server

from .test_gunicorn import BIG_JOB, SMALL_JOB, Gunicorn, poll_job

TILE = "/collections/dem/map/tiles/WebMercatorQuad/{z}/{y}/{x}?algorithm=hillshade"


def _new_database(dsn: str) -> str:
    import psycopg

    name = f"replicas_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return dsn.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="module", params=["shared-dir", "postgresql"])
def stack(request, settings, tmp_path_factory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("replicas")
    backend = "embedded" if request.param == "shared-dir" else _new_database(request.getfixturevalue("jobs_postgres"))
    with redis_server(tmp) as redis_url:
        replicas: list[Gunicorn] = []
        try:
            for i in range(2):
                port = free_port()
                env = {k: v for k, v in os.environ.items() if not k.startswith("GEODEFERRED_")}
                env.update(GEODEFERRED_PORT=str(port), GEODEFERRED_HOST="127.0.0.1", GEODEFERRED_WORKERS="1",
                           GEODEFERRED_DATA_DIR=str(settings.data_dir), GEODEFERRED_DEM_WIDTH=str(settings.dem_width),
                           GEODEFERRED_JOBS_DIR=str(tmp / ("jobs" if backend == "embedded" else f"jobs-{i}")),
                           GEODEFERRED_JOBS_BACKEND=backend, GEODEFERRED_EXECUTOR="process:1",
                           GEODEFERRED_TILE_CACHE=redis_url, GEODEFERRED_HOUSEKEEPING_INTERVAL="1",
                           GUNICORN_CMD_ARGS=f"--control-socket {tmp / f'gunicorn-{i}.ctl'}")
                g = Gunicorn(env, port, tmp / f"gunicorn-{i}.log")
                replicas.append(g)
                g.wait_ready(workers=1)  # one after the other: the first builds any missing demo data
            with nginx_server(tmp, [r.url.removeprefix("http://") for r in replicas]) as lb:
                yield {"lb": lb, "replicas": replicas, "redis": redis_url, "tmp": tmp, "shared": backend == "embedded"}
        finally:
            for g in replicas:
                g.kill_group()


def _redis_keys(url: str) -> int:
    import redis

    return redis.Redis.from_url(url).dbsize()


def test_tiles_shared_through_redis_with_equal_etags(stack):
    a, b = stack["replicas"]
    path = TILE.format(z=3, x=4, y=3)
    before = _redis_keys(stack["redis"])
    ra = httpx.get(a.url + path, timeout=60)
    assert ra.status_code == 200 and _redis_keys(stack["redis"]) == before + 1
    rb = httpx.get(b.url + path, timeout=60)
    assert rb.status_code == 200 and _redis_keys(stack["redis"]) == before + 1  # served from the shared cache
    assert ra.headers["etag"] == rb.headers["etag"] and ra.content == rb.content
    via_lb = httpx.get(stack["lb"] + path, headers={"If-None-Match": ra.headers["etag"]}, timeout=60)
    assert via_lb.status_code == 304


def test_any_replica_answers_any_job(stack):
    a, b = stack["replicas"]
    r = httpx.post(a.url + "/processes/hillshade/execution", json=SMALL_JOB, headers={"Prefer": "respond-async"})
    job_id = r.json()["jobID"]
    assert poll_job(b.url, job_id, 120)["status"] == "successful"
    via_a = httpx.get(f"{a.url}/jobs/{job_id}/results/result", timeout=60)
    via_b = httpx.get(f"{b.url}/jobs/{job_id}/results/result", timeout=60)
    via_lb = httpx.get(f"{stack['lb']}/jobs/{job_id}/results/result", timeout=60)
    assert via_a.status_code == 200 and via_a.content == via_b.content == via_lb.content


def _png(content: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(content)).convert("RGBA"))


def _sync(url: str, pid: str, inputs: dict) -> np.ndarray:
    r = httpx.post(f"{url}/processes/{pid}/execution", json={"inputs": inputs}, timeout=120)
    assert r.status_code == 200, r.text
    return read_geotiff_bytes(r.content)[0]


REGION = {"bbox": [0, 40, 20, 50], "width": 64}


def test_a_workflow_result_stored_through_one_replica_has_the_same_pixels_from_the_other(stack):
    import redis

    a, b = stack["replicas"]
    r = httpx.post(a.url + "/processes/hillshade/execution?response=collection",
                   json={"inputs": {"data": {"collection": "dem"}, "azimuth": 123}}, timeout=60)
    assert r.status_code == 303, r.text
    coll = r.headers["location"].removeprefix(a.url)
    assert httpx.get(b.url + coll, timeout=60).status_code == 200
    tile = coll + "/map/tiles/WebMercatorQuad/3/3/4?f=png"
    ta = httpx.get(a.url + tile, timeout=60)
    redis.Redis.from_url(stack["redis"]).flushdb()  # B computes the tile itself
    tb = httpx.get(b.url + tile, timeout=60)
    assert ta.status_code == tb.status_code == 200 and _redis_keys(stack["redis"]) == 1
    pa, pb = _png(ta.content), _png(tb.content)
    assert (pa[..., 3] > 0).any() and len(np.unique(pa[..., 0])) > 10
    np.testing.assert_array_equal(pa, pb)


def _package(pid: str, azimuth: float) -> dict:
    return {"processDescription": {"id": pid, "inputs": {"az": {"schema": {"default": azimuth}}}},
            "executionUnit": {"value": {"process": "hillshade", "inputs": {"data": {"collection": "dem"},
                                                                           "azimuth": {"$input": "az"}}},
                              "mediaType": "application/ogcexec+json"}}


def test_a_process_deployed_on_one_replica_runs_on_the_other(stack):
    a, b = stack["replicas"]
    pid = f"shade-{uuid.uuid4().hex[:8]}"
    assert httpx.post(a.url + "/processes", json=_package(pid, 300), timeout=60).status_code == 201
    inline = lambda url, az: _sync(url, "hillshade", {"data": {"collection": "dem"}, "azimuth": az, **REGION})  # noqa: E731
    np.testing.assert_array_equal(_sync(b.url, pid, REGION), inline(a.url, 300))
    assert httpx.put(f"{b.url}/processes/{pid}", json=_package(pid, 45), timeout=60).status_code == 204
    pkg = httpx.get(f"{a.url}/processes/{pid}/package", timeout=60).json()
    assert pkg["processDescription"]["inputs"]["az"]["schema"]["default"] == 45
    np.testing.assert_array_equal(_sync(a.url, pid, REGION), inline(b.url, 45))
    assert httpx.delete(f"{b.url}/processes/{pid}", timeout=60).status_code == 204
    assert httpx.get(f"{a.url}/processes/{pid}", timeout=60).status_code == 404
    assert httpx.get(f"{a.url}/collections/{pid}", timeout=60).status_code == 404


def test_a_model_trained_through_one_replica_applies_through_the_other(stack):
    a, b = stack["replicas"]
    body = {"inputs": {"method": "kmeans", "clusters": 3, "data": {"collection": "dem"}, "bbox": [0, 40, 20, 50],
                       "name": f"replicas {uuid.uuid4().hex[:6]}"}}
    r = httpx.post(a.url + "/processes/train-model/execution", json=body, headers={"Prefer": "respond-async"}, timeout=60)
    assert r.status_code == 201, r.text
    job_id = r.json()["jobID"]
    assert poll_job(a.url, job_id, 240)["status"] == "successful"
    mid = httpx.get(f"{a.url}/jobs/{job_id}/results/model", timeout=60).json()["id"]
    described = [httpx.get(f"{url}/models/{mid}", timeout=60).json() for url in (a.url, b.url)]
    assert [d["properties"] for d in described] == [described[0]["properties"]] * 2  # links name each replica
    onnx = httpx.get(f"{b.url}/models/{mid}/model.onnx", timeout=60).content
    assert onnx == httpx.get(f"{a.url}/models/{mid}/model.onnx", timeout=60).content and len(onnx) > 100
    inputs = {"data": {"collection": "dem"}, "model": mid, **REGION}
    via_b, via_a = _sync(b.url, "cluster", inputs), _sync(a.url, "cluster", inputs)
    np.testing.assert_array_equal(via_b, via_a)
    assert set(np.unique(via_b[np.isfinite(via_b)])) == {1.0, 2.0, 3.0}
    if not stack["shared"]:  # B read the model from the database into a folder of its own
        assert list((stack["tmp"] / "jobs-1" / "models" / mid).glob("*/model.onnx"))


def test_job_of_a_killed_replica_is_resumed_by_the_other(stack):
    a, b = stack["replicas"]
    r = httpx.post(a.url + "/processes/hillshade/execution", json=BIG_JOB, headers={"Prefer": "respond-async"})
    job_id = r.json()["jobID"]
    poll_job(b.url, job_id, 60, until=("running",))
    os.killpg(a.proc.pid, signal.SIGKILL)  # the replica, its workers and its pool, at once
    a.proc.wait(30)
    doc = poll_job(stack["lb"], job_id, 240)  # nginx now sends everything to the survivor
    assert doc["status"] == "successful", doc
    assert httpx.get(f"{stack['lb']}/jobs/{job_id}/results/result", timeout=60).status_code == 200
