"""Encode an evaluated region: a GeoTIFF (COG layout) and JSON statistics per band."""
from __future__ import annotations

from typing import Any

import numpy as np
import rasterio
from rasterio.io import MemoryFile

from .engine.grid import Grid
from .ops import Raster

NODATA = float("nan")  # what GDAL, QGIS and numpy all read as missing, even where a client drops the nodata tag
GEOTIFF = "image/tiff; application=geotiff"


def geotiff(r: Raster, grid: Grid) -> bytes:
    """Float32 GeoTIFF with band descriptions; invalid pixels carry the nodata value."""
    data = np.where(r.mask[None], r.data, np.float32(NODATA)).astype(np.float32)
    profile = {"driver": "GTiff", "width": grid.width, "height": grid.height, "count": data.shape[0],
               "dtype": "float32", "crs": grid.crs, "transform": grid.transform, "nodata": NODATA,
               "compress": "deflate", "predictor": 3, "tiled": grid.width >= 256 and grid.height >= 256,
               "blockxsize": 256, "blockysize": 256}
    if not profile["tiled"]:
        profile.pop("blockxsize"), profile.pop("blockysize")
    with MemoryFile() as mem:
        with mem.open(**profile) as ds:
            ds.write(data)
            for i, name in enumerate(r.band_names, 1):
                ds.set_band_description(i, name)
        return mem.read()


def statistics(r: Raster) -> dict[str, Any]:
    """Per band: count of valid pixels, min, max, mean, std and a few percentiles."""
    out: dict[str, Any] = {}
    total = int(r.mask.size)
    for name, band in zip(r.band_names, r.data):
        vals = band[r.mask].astype(np.float64)
        if vals.size == 0:
            out[name] = {"count": 0, "total": total}
            continue
        p2, p50, p98 = np.percentile(vals, [2, 50, 98])
        out[name] = {"count": int(vals.size), "total": total, "min": float(vals.min()), "max": float(vals.max()),
                     "mean": float(vals.mean()), "std": float(vals.std()), "median": float(p50),
                     "percentile_2": float(p2), "percentile_98": float(p98)}
    return out


def read_geotiff_bytes(data: bytes) -> tuple[np.ndarray, dict]:
    """For tests and clients: the array and profile of GeoTIFF bytes."""
    with MemoryFile(data) as mem, mem.open() as ds:
        return ds.read(), dict(ds.profile) | {"descriptions": ds.descriptions, "bounds": ds.bounds}


__all__ = ["geotiff", "statistics", "read_geotiff_bytes", "GEOTIFF", "rasterio"]
