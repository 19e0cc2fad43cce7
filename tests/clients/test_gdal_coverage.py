"""GDAL (Debian 12's 3.6 CLI) reads collections, deferred workflow results included, through
OGC API - Coverages, and only the blocks it needs are computed."""
from __future__ import annotations

import httpx
import numpy as np
import rasterio

from processes.outputs import read_geotiff_bytes

from .test_gdal import GDAL_TRANSLATE, cli, gdal, requested_tiles  # noqa: F401  (cli is a fixture)


def deferred_hillshade(url: str) -> str:
    r = httpx.post(f"{url}/processes/hillshade/execution?response=collection", timeout=30,
                   json={"inputs": {"data": {"collection": "dem"}, "z_factor": 30}})
    assert r.status_code == 303, r.text
    return r.headers["location"]


def test_gdal_translate_projwin_on_a_workflow_result(live_server, cli, tmp_path):  # noqa: F811
    location = deferred_hillshade(live_server.url)
    out = tmp_path / "window.tif"
    # native grid of the test DEM is 0.5 degree: a 20 x 10 degree window is 40 x 20 pixels
    proc = gdal(GDAL_TRANSLATE, "-q", "--debug", "on", "-oo", "CACHE=NO", f"OGCAPI:{location}",
                "-projwin", "0", "50", "20", "40", str(out))
    with rasterio.open(out) as ds:
        got = ds.read(1)
        assert (ds.width, ds.height) == (40, 20)
        assert ds.crs.to_epsg() == 4326
        np.testing.assert_allclose(ds.bounds, (0, 40, 20, 50))
    direct, _ = read_geotiff_bytes(httpx.get(f"{location}/coverage?bbox=0,40,20,50&scale-size=Lon(40),Lat(20)",
                                             timeout=60).content)
    np.testing.assert_allclose(got, direct[0], atol=1e-3)
    assert got.std() > 1
    # GDAL asked for coverage blocks around the window only, not for the whole world
    blocks = [u for u in requested_tiles(proc.stderr) if "/coverage?" in u]
    assert 1 <= len(blocks) <= 4, blocks


def test_gdal_reads_source_coverage_downsampled(live_server, cli, tmp_path):  # noqa: F811
    out = tmp_path / "world.tif"
    gdal(GDAL_TRANSLATE, "-q", "-oo", "CACHE=NO", f"OGCAPI:{live_server.url}/collections/dem",
         "-outsize", "180", "90", str(out))
    with rasterio.open(out) as ds:
        world = ds.read(1)
    assert world.shape == (90, 180)
    assert world.min() < 0 < world.max()  # sea and land
