"""Tile matrix sets (morecantile) as the engine's grids, and their OGC documents.

TMS documents are served in the OGC 2.0 JSON that morecantile emits plus the 1.0-style fields
(`identifier`, `boundingBox`, `supportedCRS`, per matrix `identifier`/`topLeftCorner`) that GDAL 3.6's
OGCAPI driver (Debian 12, many QGIS installs) still requires.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import morecantile
from morecantile import TileMatrixSet

from processes.engine.grid import Grid

from .errors import NotFound

SUPPORTED = ("WebMercatorQuad", "WorldCRS84Quad", "WorldMercatorWGS84Quad", "WGS1984Quad",
             "EuropeanETRS89_LAEAQuad", "UTM31WGS84Quad")


def get_tms(tms_id: str) -> TileMatrixSet:
    if tms_id not in SUPPORTED:
        raise NotFound(f"unknown tile matrix set '{tms_id}'; available: {', '.join(SUPPORTED)}")
    return morecantile.tms.get(tms_id)


@lru_cache(maxsize=16)
def crs_text(tms_id: str) -> str:
    return get_tms(tms_id).rasterio_crs.to_string()


def tile_grid(tms_id: str, z: int, x: int, y: int) -> Grid:
    """The output grid of one tile; 404 outside the matrix."""
    tms = get_tms(tms_id)
    if not (tms.minzoom <= z <= tms.maxzoom):
        raise NotFound(f"zoom {z} is outside {tms_id} ({tms.minzoom}-{tms.maxzoom})")
    m = tms.matrix(z)
    if not (0 <= x < m.matrixWidth and 0 <= y < m.matrixHeight):
        raise NotFound(f"tile {z}/{y}/{x} is outside the {tms_id} matrix ({m.matrixHeight} rows x {m.matrixWidth} cols)")
    b = tms.xy_bounds(x, y, z)
    return Grid.from_bounds(crs_text(tms_id), (b.left, b.bottom, b.right, b.top), m.tileWidth, m.tileHeight)


def limits(tms_id: str, bbox: tuple[float, float, float, float], z: int) -> tuple[int, int, int, int]:
    """(minRow, maxRow, minCol, maxCol) of the tiles covering a WGS84 bbox at zoom z."""
    tms = get_tms(tms_id)
    gb = tms.bbox  # the matrix set's own geographic extent (e.g. +-85.05 for Web Mercator)
    w, s, e, n = max(bbox[0], gb.left), max(bbox[1], gb.bottom), min(bbox[2], gb.right), min(bbox[3], gb.top)
    eps = 1e-9
    ul = tms.tile(w + eps, n - eps, z)
    lr = tms.tile(e - eps, s + eps, z)
    return ul.y, lr.y, ul.x, lr.x


def native_zoom(tms_id: str, resolution_m: float) -> int:
    """The zoom whose pixel size is closest to (not coarser than) a ground resolution in metres."""
    tms = get_tms(tms_id)
    return tms.zoom_for_res(resolution_m if tms.crs._pyproj_crs.is_projected else resolution_m / 111320.0)


def tms_document(tms_id: str) -> dict[str, Any]:
    tms = get_tms(tms_id)
    doc = tms.model_dump(mode="json", exclude_none=True)
    # OGC TMS 1.0 spellings for GDAL < 3.7
    doc["identifier"] = tms.id
    doc["supportedCRS"] = doc["crs"] if isinstance(doc.get("crs"), str) else str(tms.crs)
    bb = tms.xy_bbox
    doc["boundingBox"] = {"type": "BoundingBoxType", "crs": doc["supportedCRS"],
                          "lowerCorner": [bb.left, bb.bottom], "upperCorner": [bb.right, bb.top]}
    if "wellKnownScaleSet" in doc:
        doc["wellKnownScaleSet"] = doc["wellKnownScaleSet"]
    for m in doc["tileMatrices"]:
        m["identifier"] = m["id"]
        m["topLeftCorner"] = m["pointOfOrigin"]
    return doc

