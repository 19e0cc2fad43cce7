"""The pgstac option (GEODEFERRED_STAC_BACKEND=postgresql://...) against a real PostgreSQL 15 +
PostGIS on loopback: the same pystac-client searches, stac-api-validator and bad-input checks as
for the embedded backend."""
from __future__ import annotations

import os

import httpx
import pytest

from tests.clients.stac_util import COLLECTION, check_searches, item_docs
from tests.clients.test_stac import check_validator
from tests.servers.postgres import postgres_server

POSTGIS = "/usr/share/postgresql/15/extension/postgis.control"


@pytest.fixture(scope="module")
def pgstac_url(settings, tmp_path_factory):
    if not os.path.exists(POSTGIS):
        pytest.skip("PostGIS for PostgreSQL 15 is not installed (Debian postgresql-15-postgis-3; `make system-deps`)")
    from app.main import create_app
    from app.settings import Settings
    from tests.conftest import LiveServer

    tmp = tmp_path_factory.mktemp("pgstac")
    with postgres_server(tmp) as dsn:
        app = create_app(Settings(data_dir=settings.data_dir, jobs_dir=tmp / "jobs", dem_width=settings.dem_width,
                                  executor="inline", stac_backend=dsn))
        with LiveServer(app) as server:
            yield server.url + "/stac", app, dsn


def test_pgstac_search_finds_exactly_the_expected_items(pgstac_url):
    url, app, _ = pgstac_url
    assert app.state.services.stac.backend == "pgstac"
    check_searches(url, item_docs(app.state.services.catalog.rasters[COLLECTION].stac_folder))


def test_pgstac_passes_stac_api_validator(pgstac_url, say):
    check_validator(pgstac_url[0], say)


def test_pgstac_bad_input_is_a_problem_document(pgstac_url):
    url = pgstac_url[0]
    for query, name in (("datetime=2023-13-45", "datetime"), ("filter=foo%3D1", "filter"), ("bbox=0,0,190,1", "bbox")):
        r = httpx.get(f"{url}/search?{query}", timeout=30)
        assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json", r.text
        assert r.json()["detail"].startswith(name), r.text


def test_a_restart_loads_exactly_the_catalogued_items(pgstac_url, tmp_path):
    """Items no longer catalogued are deleted at the next start; new ones are added."""
    from pypgstac.db import PgstacDB

    from app.stac.export import export_catalog
    from app.stac.pgstac import load

    url, app, dsn = pgstac_url
    export = export_catalog(app.state.services.catalog, tmp_path)
    gone = export.items.pop()
    load(export, dsn)
    with PgstacDB(dsn=dsn) as db:
        ids = {row[0] for row in db.query("SELECT id FROM items WHERE collection = %s", (COLLECTION,))}
    assert ids == {i["id"] for i in export.items} and gone["id"] not in ids
    assert httpx.get(f"{url}/collections/{COLLECTION}/items/{gone['id']}", timeout=30).status_code == 404
    export.items.append(gone)
    load(export, dsn)
    assert httpx.get(f"{url}/collections/{COLLECTION}/items/{gone['id']}", timeout=30).status_code == 200
