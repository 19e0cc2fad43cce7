"""Our tile matrix set documents through GDAL's own TileMatrixSet parser (COG driver TILING_SCHEME),
in Debian 12's GDAL 3.6 command line and in the GDAL 3.10 that rasterio bundles."""
from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
import rasterio.shutil
from rasterio.transform import from_bounds

from app.tiling import SUPPORTED

from .test_gdal import GDAL_TRANSLATE, cli, gdal, rio_gdal  # noqa: F401  (fixtures are used by name)


# --------------------------------------------------------------------------------------------
# Tile matrix set documents through GDAL's own TileMatrixSet parser (COG driver TILING_SCHEME)
# --------------------------------------------------------------------------------------------


def _source_raster(path: Path) -> Path:
    """A small EPSG:4326 GeoTIFF over southern France (inside every supported matrix set)."""
    data = np.add.outer(np.arange(120), np.arange(120)).astype("float32")[None]
    with rasterio.open(path, "w", driver="GTiff", width=120, height=120, count=1, dtype="float32",
                       crs="EPSG:4326", transform=from_bounds(2, 42, 8, 48, 120, 120)) as ds:
        ds.write(data)
    return path


def _strip_tms10(doc: dict) -> dict:
    """The same document without the TMS 1.0 spellings (plain OGC TMS 2.0, as morecantile emits)."""
    doc = {k: v for k, v in doc.items() if k not in ("identifier", "supportedCRS", "boundingBox")}
    doc["tileMatrices"] = [{k: v for k, v in m.items() if k not in ("identifier", "topLeftCorner")}
                           for m in doc["tileMatrices"]]
    return doc


def _check_on_grid(cog: Path, doc: dict) -> None:
    """The COG GDAL wrote is in the set's CRS, on one of its matrices' cell size and tile grid."""
    uri = doc["crs"]
    epsg = 4326 if uri.endswith("CRS84") else int(uri.rsplit("/", 1)[-1])
    with rasterio.open(cog) as ds:
        level = int(ds.tags(ns="TILING_SCHEME")["ZOOM_LEVEL"])  # position in tileMatrices (UTM31 starts at id 1)
        assert ds.crs.to_epsg() == epsg
        t = ds.transform
    m = doc["tileMatrices"][level]
    assert t.a == pytest.approx(m["cellSize"], rel=1e-9) and -t.e == pytest.approx(m["cellSize"], rel=1e-9)
    ox, oy = m["pointOfOrigin"]
    if doc.get("orderedAxes", ["x"])[0].upper() in ("Y", "N", "LAT", "NORTHING"):
        ox, oy = oy, ox
    span_x, span_y = m["cellSize"] * m["tileWidth"], m["cellSize"] * m["tileHeight"]
    for offset in ((t.c - ox) / span_x, (oy - t.f) / span_y):
        assert offset == pytest.approx(round(offset), abs=1e-6), (m["id"], t)


@pytest.mark.parametrize("tms_id", SUPPORTED)
def test_cli_parses_our_tile_matrix_sets(live_server, cli, tmp_path, tms_id):
    doc = httpx.get(f"{live_server.url}/tileMatrixSets/{tms_id}", timeout=30).json()
    path = tmp_path / "tms.json"
    path.write_text(json.dumps(doc))
    cog = tmp_path / "cog.tif"
    gdal(GDAL_TRANSLATE, "-q", "-of", "COG", "-co", f"TILING_SCHEME={path}", str(_source_raster(tmp_path / "src.tif")),
         str(cog))
    _check_on_grid(cog, doc)


def test_cli_needs_the_tms10_spellings(live_server, cli, tmp_path):
    """Why the documents carry both spellings: GDAL 3.6 does not read a plain TMS 2.0 document."""
    doc = _strip_tms10(httpx.get(f"{live_server.url}/tileMatrixSets/WebMercatorQuad", timeout=30).json())
    path = tmp_path / "tms20.json"
    path.write_text(json.dumps(doc))
    proc = gdal(GDAL_TRANSLATE, "-q", "-of", "COG", "-co", f"TILING_SCHEME={path}",
                str(_source_raster(tmp_path / "src.tif")), str(tmp_path / "cog.tif"), check=False)
    # TMS 2.0 parsing came with GDAL 3.8 (OSGeo/gdal#6882, fixed July 2023): before it, the plain document fails
    if cli < (3, 8):
        assert proc.returncode != 0, "GDAL < 3.8 was expected to reject a plain TMS 2.0 document"
        if cli[:2] == (3, 6):
            assert "Cannot parse CRS" in proc.stderr, proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("spelling", ["served", "plain TMS 2.0"])
@pytest.mark.parametrize("tms_id", SUPPORTED)
def test_gdal310_parses_our_tile_matrix_sets(live_server, rio_gdal, tmp_path, monkeypatch, tms_id, spelling):
    doc = httpx.get(f"{live_server.url}/tileMatrixSets/{tms_id}", timeout=30).json()
    if spelling != "served":
        doc = _strip_tms10(doc)
    src = _source_raster(tmp_path / "src.tif")
    # rasterio upper-cases creation option values: give GDAL an upper-case relative file name
    monkeypatch.chdir(tmp_path)
    Path("TMS.JSON").write_text(json.dumps(doc))
    rasterio.shutil.copy(src, tmp_path / "cog.tif", driver="COG", TILING_SCHEME="TMS.JSON")
    _check_on_grid(tmp_path / "cog.tif", doc)


# --------------------------------------------------------------------------------------------
# rasterio's GDAL 3.10: map tiles through the WMS/TMS mini-driver, configured from our documents
# --------------------------------------------------------------------------------------------


