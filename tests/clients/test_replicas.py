"""Stateless replicas: two gunicorn masters behind a real nginx, sharing a real Redis tile cache
and one job store: files in a shared GEODEFERRED_JOBS_DIR, or a real PostgreSQL (then each replica
has a jobs dir of its own: they share no disk for jobs). Tiles have the same ETag and bytes from
either replica and are computed once; any replica answers any job; a job whose replica is killed
is resumed by the other."""
from __future__ import annotations

import os
import signal
import time
import uuid
from typing import Iterator

import httpx
import pytest

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
                yield {"lb": lb, "replicas": replicas, "redis": redis_url}
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
