"""A catalog entry may point at a COG over HTTP (range requests), but only under an allowed prefix."""
from __future__ import annotations

import shutil

import pytest
from starlette.testclient import TestClient

from app.main import create_app
from processes.outputs import read_geotiff_bytes
from tests.range_server import RangeHandler, RangeServer

CATALOG = """
collections:
  remote_dem:
    type: raster
    title: A DEM read over HTTP
    href: {url}/dem.tif
    bands: [elevation]
"""


@pytest.fixture
def served_dem(client, settings, tmp_path):  # client: the demo data is built
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(next(settings.data_dir.glob("dem_*.tif")), root / "dem.tif")
    with RangeServer(root) as server:
        yield server


def test_remote_cog_by_range_requests(settings, tmp_path, served_dem):
    cat = tmp_path / "catalog.yaml"
    cat.write_text(CATALOG.format(url=served_dem.url))
    s = settings.model_copy(update={"catalog": cat, "jobs_dir": tmp_path / "jobs", "build_demo_data": False,
                                    "allowed_remote_prefixes": [served_dem.url + "/"]})
    with TestClient(create_app(s)) as c:
        r = c.get("/collections/remote_dem/map/tiles/WebMercatorQuad/3/2/4?algorithm=hillshade&z_factor=30")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        remote, _ = read_geotiff_bytes(c.get("/collections/remote_dem/coverage?bbox=0,40,20,50").content)
    assert any(x.startswith("bytes=") for x in RangeHandler.requests_seen)
    assert "full" not in RangeHandler.requests_seen  # never downloaded whole
    local = settings.model_copy(update={"jobs_dir": tmp_path / "jobs2"})
    with TestClient(create_app(local)) as c:
        here, _ = read_geotiff_bytes(c.get("/collections/dem/coverage?bbox=0,40,20,50").content)
    assert (remote == here).all()


def test_remote_cog_outside_allowed_prefixes_is_refused(settings, tmp_path, served_dem):
    cat = tmp_path / "catalog.yaml"
    cat.write_text(CATALOG.format(url=served_dem.url))
    s = settings.model_copy(update={"catalog": cat, "jobs_dir": tmp_path / "jobs", "build_demo_data": False,
                                    "allowed_remote_prefixes": ["https://data.example.org/"]})
    with pytest.raises(ValueError, match="not under an allowed remote prefix"):
        with TestClient(create_app(s)):
            pass
    assert RangeHandler.requests_seen == []  # nothing was fetched
