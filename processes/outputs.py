"""Encode an evaluated region as it streams in: a tiled GeoTIFF written window by window, and
JSON statistics per band. Memory holds one chunk at a time, whatever the region's size."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import rasterio
from rasterio.enums import ColorInterp
from rasterio.io import MemoryFile
from rasterio.windows import Window

from .engine.grid import Grid
from .engine.region import Part, chunks
from .statistics import Moments

# Band names that say which band is red, green and blue (Sentinel-2, Landsat 8/9, plain names): a
# GeoTIFF holding all three marks them, so QGIS and GDAL show true colour instead of bands 1, 2, 3.
RGB_NAMES = ({"red": "B04", "green": "B03", "blue": "B02"}, {"red": "SR_B4", "green": "SR_B3", "blue": "SR_B2"},
             {"red": "red", "green": "green", "blue": "blue"})
NODATA = float("nan")  # what GDAL, QGIS and numpy all read as missing, even where a client drops the nodata tag
GEOTIFF = "image/tiff; application=geotiff"
MEDIA_TYPES = {"result": GEOTIFF, "statistics": "application/json"}
FILES = {"result": "result.tif", "statistics": "statistics.json"}
_BLOCK = 256


def _profile(grid: Grid, count: int) -> dict:
    tiled = grid.width >= _BLOCK and grid.height >= _BLOCK
    profile = {"driver": "GTiff", "width": grid.width, "height": grid.height, "count": count, "dtype": "float32",
               "crs": grid.crs, "transform": grid.transform, "nodata": NODATA, "compress": "deflate", "predictor": 3,
               "tiled": tiled, "BIGTIFF": "IF_SAFER"}
    if tiled:
        profile |= {"blockxsize": _BLOCK, "blockysize": _BLOCK}
    return profile


def write(parts: Iterable[Part], grid: Grid, band_names: tuple[str, ...], wanted: Iterable[str],
          dest: Path) -> dict[str, dict[str, str]]:
    """Write the wanted outputs of a one-root region into `dest`; returns the results manifest
    ({name: {"file", "mediaType"}}). Invalid pixels carry the nodata value."""
    wanted = set(wanted)
    tif = dest / FILES["result"]
    moments = Moments(band_names) if "statistics" in wanted else None
    with rasterio.open(tif, "w", **_profile(grid, len(band_names))) as ds:
        for i, name in enumerate(band_names, 1):
            ds.set_band_description(i, name)
        ds.colorinterp = colour_interpretation(band_names)
        for part in parts:
            (r,) = part.rasters
            h, w = r.mask.shape
            ds.write(np.where(r.mask[None], r.data, np.float32(NODATA)).astype(np.float32),
                     window=Window(part.col_off, part.row_off, w, h))
            if moments is not None:
                moments.add(r)
    manifest = {}
    if moments is not None:
        stats = moments.result(lambda: _valid_values(tif))
        (dest / FILES["statistics"]).write_bytes(json.dumps(stats).encode())
        manifest["statistics"] = {"file": FILES["statistics"], "mediaType": MEDIA_TYPES["statistics"]}
    if "result" in wanted:
        manifest["result"] = {"file": FILES["result"], "mediaType": MEDIA_TYPES["result"]}
    else:
        tif.unlink()
    return manifest


def _valid_values(path: Path, size: int = 1024) -> Iterator[list[np.ndarray]]:
    """Window by window, the valid values of every band of a written result."""
    with rasterio.open(path) as ds:
        grid = Grid(str(ds.crs), ds.transform, ds.width, ds.height)
        for c, r, w, h in chunks(grid, size):
            data = ds.read(window=Window(c, r, w, h))
            yield [band[~np.isnan(band)] for band in data]


def colour_interpretation(names: tuple[str, ...]) -> list[ColorInterp]:
    """Red/green/blue for the bands named so (when all three are there); grey or undefined elsewhere."""
    out = [ColorInterp.gray] + [ColorInterp.undefined] * (len(names) - 1)
    for spelling in RGB_NAMES:
        if set(spelling.values()) <= set(names):
            for colour, name in spelling.items():
                out[names.index(name)] = ColorInterp[colour]
            break
    return out


def read_geotiff_bytes(data: bytes) -> tuple[np.ndarray, dict]:
    """For tests and clients: the array and profile of GeoTIFF bytes."""
    with MemoryFile(data) as mem, mem.open() as ds:
        return ds.read(), dict(ds.profile) | {"descriptions": ds.descriptions, "bounds": ds.bounds,
                                        "colorinterp": ds.colorinterp}


__all__ = ["write", "read_geotiff_bytes", "GEOTIFF", "MEDIA_TYPES", "FILES"]
