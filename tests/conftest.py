"""Shared fixtures: one demo-data service for the session, reachable through the ASGI transport
(`client`) and through a real uvicorn server on a free loopback port (`live_server`)."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest
import uvicorn
from starlette.testclient import TestClient


TEST_DEM_WIDTH = 720


def pytest_configure(config) -> None:
    """One model store for every app the session builds (GEODEFERRED_MODELS_DIR is also what the
    executors' worker processes read, and they are shared by the session's apps)."""
    import os
    import tempfile

    os.environ.setdefault("GEODEFERRED_MODELS_DIR", tempfile.mkdtemp(prefix="geodeferred-models-"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("geodeferred")


@pytest.fixture(scope="session")
def settings(data_root: Path):
    from app.settings import Settings

    return Settings(data_dir=data_root / "data", jobs_dir=data_root / "jobs", dem_width=TEST_DEM_WIDTH,
                    executor="process:2", max_sync_pixels=4_000_000)


@pytest.fixture(scope="session")
def client(settings) -> Iterator[TestClient]:
    from app.main import create_app

    with TestClient(create_app(settings)) as c:
        yield c


class LiveServer:
    """A uvicorn server in a background thread; `url` is its base URL."""

    def __init__(self, app, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.time() + 300  # the first start builds the demo data (slow on a loaded machine)
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/conformance", timeout=2).status_code < 500:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("live server did not start")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="session")
def live_server(settings) -> Iterator[LiveServer]:
    """The demo-data app served over real HTTP (for owslib, GDAL, pystac-client, leafmap)."""
    from app.main import create_app

    with LiveServer(create_app(settings)) as server:
        yield server


@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], str]]:
    """Serve any ASGI app (e.g. `create_app(...)` on a test's own catalog) over real HTTP.

    `url = serve_app(app)` starts a `LiveServer` (uvicorn, free loopback port, the app's lifespan
    runs) and returns its base URL without a trailing slash; every server started is stopped at
    teardown.
    """
    servers: list[LiveServer] = []

    def start(app: Any) -> str:
        server = LiveServer(app).__enter__()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def jobs_postgres(tmp_path_factory) -> Iterator[str]:
    """One real PostgreSQL on loopback for the session's PostgreSQL job stores."""
    from tests.servers.postgres import postgres_server

    with postgres_server(tmp_path_factory.mktemp("jobs-postgres")) as dsn:
        yield dsn


@pytest.fixture
def empty_jobs_db(jobs_postgres: str) -> str:
    """The DSN of the session's database, migrated and emptied for this test: jobs, stored workflow
    results, deployed processes and models (everything a PostgreSQL backend keeps)."""
    from tests.servers.postgres import emptied

    return emptied(jobs_postgres)


@pytest.fixture(params=["embedded", "postgresql"])
def jobs_backend(request) -> str:
    """Each backend in turn (files; a real PostgreSQL on loopback), as the GEODEFERRED_JOBS_BACKEND value:
    it selects the store of jobs, stored workflow results, deployed processes and models."""
    return "embedded" if request.param == "embedded" else request.getfixturevalue("empty_jobs_db")
