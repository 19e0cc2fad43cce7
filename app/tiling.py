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


MAX_LISTED_ZOOM = 18


@lru_cache(maxsize=1024)
def zoom_range(tms_id: str, bbox: tuple[float, float, float, float]) -> tuple[int, int]:
    """(first, last) zoom a tileset of data covering a WGS84 bbox lists and serves.

    The first is the coarsest matrix on which the extent spans at least one pixel each way:
    GDAL 3.6's OGCAPI driver crops every listed matrix to the extent and fails to open the
    whole dataset when one of them makes it less than a pixel ("Computed -srcwin ... has
    negative width and/or height"), and such a tile holds no visible data anyway.
    """
    tms = get_tms(tms_id)
    last = min(tms.maxzoom, MAX_LISTED_ZOOM)
    gb = tms.bbox
    w, s, e, n = max(bbox[0], gb.left), max(bbox[1], gb.bottom), min(bbox[2], gb.right), min(bbox[3], gb.top)
    if w >= e or s >= n:
        return tms.minzoom, last
    from rasterio.warp import transform_bounds

    left, bottom, right, top = transform_bounds("EPSG:4326", tms.rasterio_crs, w, s, e, n, densify_pts=21)
    for z in range(tms.minzoom, last + 1):
        cell = tms.matrix(z).cellSize
        if right - left >= cell and top - bottom >= cell:
            return z, last
    return last, last


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
    lower, upper = [bb.left, bb.bottom], [bb.right, bb.top]
    if _north_first(tms):  # 1.0 corners are in the CRS's axis order, like pointOfOrigin (e.g. EPSG:4326, 3035)
        lower, upper = lower[::-1], upper[::-1]
    # a TMS 2.0 boundingBox (lowerLeft/upperRight) keeps its members; the 1.0 ones are added beside them
    doc["boundingBox"] = {**doc.get("boundingBox", {}), "type": "BoundingBoxType", "crs": doc["supportedCRS"],
                          "lowerCorner": lower, "upperCorner": upper}
    for m in doc["tileMatrices"]:
        m["identifier"] = m["id"]
        m["topLeftCorner"] = m["pointOfOrigin"]
    return doc


def _north_first(tms: TileMatrixSet) -> bool:
    """Whether the CRS's first axis is a northing or latitude."""
    axes = tms.crs._pyproj_crs.axis_info
    return bool(axes) and axes[0].direction.lower() in ("north", "south")
