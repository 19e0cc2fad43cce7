"""One real gunicorn deployment (2 uvicorn workers, deploy/gunicorn.conf.py) for every notebook."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.conftest import free_port
from tests.servers.gunicorn import Gunicorn, gunicorn_env


@pytest.fixture(scope="module")
def notebook_server(client, settings, tmp_path_factory) -> Iterator[Gunicorn]:
    """(`client` first: the session's demo data is built before gunicorn's workers start.)"""
    root = tmp_path_factory.mktemp("notebook-server")
    port = free_port()
    g = Gunicorn(gunicorn_env(settings, root / "jobs", port), port, root / "gunicorn.log")
    try:
        g.wait_ready(workers=2)
        yield g
    finally:
        g.kill_group()
