"""Back-pressure over real HTTP (uvicorn on loopback): past its limits the service answers 503
with Retry-After at once (sync executions, job submissions, tiles) instead of queueing; /health
answers while it computes; a client that disconnects has its queued tile work dropped."""
from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from app.main import create_app

from ..conftest import LiveServer

HEAVY = {"inputs": {"data": {"process": "hillshade", "inputs": {"data": {"collection": "dem"}, "z_factor": 30}},
                    "bbox": [-170, -80, 170, 80], "width": 1600}}


@pytest.fixture(scope="module")
def server(settings, tmp_path_factory):
    s = settings.model_copy(update={"jobs_dir": tmp_path_factory.mktemp("overload"), "max_sync_executions": 1,
                                    "max_active_jobs": 1, "tile_threads": 1, "max_tile_queue": 3,
                                    "tile_cache": "none", "region_chunk": 256})
    with LiveServer(create_app(s)) as srv:
        yield srv


def _post_sync(url):
    return httpx.post(url + "/processes/slope/execution", json=HEAVY, timeout=120)


def test_sync_executions_past_the_limit_get_503_and_health_answers(server):
    health = []

    def probe():
        time.sleep(0.3)
        health.append(httpx.get(server.url + "/health", timeout=10))

    t = threading.Thread(target=probe)
    with ThreadPoolExecutor(4) as pool:
        t.start()
        answers = list(pool.map(_post_sync, [server.url] * 4))
    t.join()
    codes = sorted(r.status_code for r in answers)
    assert 200 in codes and 503 in codes, codes
    assert set(codes) <= {200, 503}
    for r in answers:
        if r.status_code == 503:
            assert r.headers["retry-after"] == "5" and r.json()["status"] == 503
    h = health[0]
    assert h.status_code == 200 and h.json()["computing"].get("executions") == 1, h.json()


def test_job_submissions_past_the_limit_get_503(server):
    big = HEAVY | {"inputs": HEAVY["inputs"] | {"width": 4000}}
    first = httpx.post(server.url + "/processes/slope/execution", json=big, headers={"Prefer": "respond-async"})
    assert first.status_code == 201
    second = httpx.post(server.url + "/processes/slope/execution", json=big, headers={"Prefer": "respond-async"})
    assert httpx.get(first.headers["location"]).json()["status"] in ("accepted", "running")
    assert second.status_code == 503 and int(second.headers["retry-after"]) > 0
    deadline = time.time() + 120
    while httpx.get(first.headers["location"]).json()["status"] in ("accepted", "running"):
        assert time.time() < deadline
        time.sleep(0.2)
    again = httpx.post(server.url + "/processes/slope/execution", json=big, headers={"Prefer": "respond-async"})
    assert again.status_code == 201


def _tile(z, x, y):
    return f"/collections/dem/map/tiles/WebMercatorQuad/{z}/{y}/{x}?algorithm=hillshade"


def test_tiles_past_the_queue_limit_get_503(server):
    paths = [_tile(5, x, y) for x in range(8, 12) for y in range(10, 14)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda p: httpx.get(server.url + p, timeout=60), paths))
    codes = [r.status_code for r in answers]
    assert 503 in codes and 200 in codes and set(codes) <= {200, 503}, codes
    assert all(r.headers["retry-after"] == "1" for r in answers if r.status_code == 503)


def test_disconnected_clients_queued_tiles_are_dropped(settings, tmp_path):
    s = settings.model_copy(update={"jobs_dir": tmp_path, "tile_threads": 1, "tile_cache": "none"})
    with LiveServer(create_app(s)) as server:
        socks = []
        for x in range(40):  # one thread renders; the others wait in its queue, then their clients leave
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(f"GET {_tile(7, 40 + x, 50)} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            socks.append(sock)
        for sock in socks:
            sock.close()
        deadline = time.time() + 30
        while time.time() < deadline:
            h = httpx.get(server.url + "/health").json()
            if not h["computing"].get("tiles"):
                break
            time.sleep(0.05)
    assert h["cancelled"].get("render_map", 0) > 0, h


def _wait_health(server, done, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        h = httpx.get(server.url + "/health").json()
        if done(h):
            return h
        time.sleep(0.05)
    raise AssertionError(f"health never reached the state: {h}")


def test_a_disconnected_clients_running_execution_stops(settings, tmp_path):
    """A synchronous execution whose client leaves mid-way stops at the engine's next checkpoint
    (its queued chunks dropped) instead of computing a result nobody reads; the next one runs."""
    s = settings.model_copy(update={"jobs_dir": tmp_path, "max_sync_executions": 1, "max_sync_pixels": 200_000_000,
                                    "region_chunk": 256, "tile_cache": "none"})
    big = HEAVY | {"inputs": HEAVY["inputs"] | {"width": 9000}}  # ~17 Mpx: many seconds of chunks
    body = json.dumps(big).encode()
    with LiveServer(create_app(s)) as server:
        before = httpx.get(server.url + "/health").json()["stopped"].get("produce_bytes", 0)
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"POST /processes/slope/execution HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        _wait_health(server, lambda h: h["computing"].get("executions") == 1)
        time.sleep(0.5)  # chunks are running
        sock.close()
        h = _wait_health(server, lambda h: h["stopped"].get("produce_bytes", 0) > before, timeout=30)
        assert not h["computing"].get("executions"), h
        after = _post_sync(server.url)  # the slot is free again
        assert after.status_code == 200, after.text


def test_a_disconnected_clients_running_tile_stops(settings, tmp_path):
    """A tile that is already being computed (a median of every Sentinel-2 scene over the area)
    stops at its next scene read once its client has gone."""
    s = settings.model_copy(update={"jobs_dir": tmp_path, "tile_threads": 1, "tile_cache": "none"})
    with LiveServer(create_app(s)) as server:
        grid = httpx.get(server.url + "/collections/sentinel2").json()
        w, so, e, n = grid["extent"]["spatial"]["bbox"][0]
        import morecantile

        t = morecantile.tms.get("WebMercatorQuad").tile((w + e) / 2, (so + n) / 2, 12)
        path = (f"/collections/sentinel2/map/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}?mosaic=median"
                "&bands=B04,B03,B02&rescale=0,0.3")
        h0 = httpx.get(server.url + "/health").json()
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        _wait_health(server, lambda h: h["computing"].get("tiles") == 1)
        time.sleep(0.3)
        sock.close()
        h = _wait_health(server, lambda h: h["stopped"].get("render_map", 0) > h0["stopped"].get("render_map", 0),
                         timeout=30)
        assert h["cancelled"] == h0["cancelled"], h  # it was running, not queued
        whole = httpx.get(server.url + path, timeout=120)  # the same tile, waited for, is whole
        assert whole.status_code == 200 and whole.content[:4] == b"\x89PNG"


def test_oversized_request_body_is_413(client):
    huge = b'{"inputs": {"x": "' + b"a" * (2 << 20) + b'"}}'
    r = client.post("/processes/slope/execution", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["status"] == 413
