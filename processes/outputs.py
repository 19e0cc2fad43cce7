"""Encode an evaluated region as it streams in: a tiled GeoTIFF and JSON statistics per band.

Each chunk is encoded where it was evaluated (`encode`, run in the executor's worker: the GeoTIFF
tiles compressed, the statistics' moments summed), so the job's coordinator only appends tiles to
the file (`write`) and merges moments; memory holds a few chunks, whatever the region's size."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import rasterio
from rasterio.enums import ColorInterp
from rasterio.io import MemoryFile
from rasterio.windows import Window

from . import geotiff
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


@dataclass(frozen=True)
class Encoded:
    """A chunk as the output holds it: its compressed GeoTIFF tiles and its moments (if wanted)."""

    col_off: int
    row_off: int
    width: int
    blob: bytes
    spans: geotiff.Spans
    moments: Moments | None


def encode(block: int, statistics: bool, part: Part) -> Encoded:
    """In the worker: a one-root chunk's tiles (invalid pixels as nodata) and moments."""
    (r,) = part.rasters
    data = np.where(r.mask[None], r.data, np.float32(NODATA)).astype(np.float32, copy=False)  # float32 already: no copy
    blob, spans = geotiff.encode_tiles(data, block)
    return Encoded(part.col_off, part.row_off, r.mask.shape[1], blob, spans, Moments.of(r) if statistics else None)


def encoder(grid: Grid, chunk: int, wanted: Iterable[str]) -> tuple[int, Callable[[Part], Encoded]]:
    """The chunk side to evaluate in (tile-aligned) and the worker-side encoder for `write`."""
    chunk = geotiff.aligned_chunk(chunk)
    return chunk, functools.partial(encode, geotiff.block_for(chunk, grid.width, grid.height), "statistics" in wanted)


def write(parts: Iterable[Encoded], grid: Grid, band_names: tuple[str, ...], wanted: Iterable[str],
          dest: Path, chunk: int) -> dict[str, dict[str, str]]:
    """Write the wanted outputs of a one-root region, encoded by `encoder(grid, chunk, wanted)`,
    into `dest`; returns the results manifest ({name: {"file", "mediaType"}}). Invalid pixels
    carry the nodata value."""
    wanted = set(wanted)
    tif = dest / FILES["result"]
    moments = Moments(band_names) if "statistics" in wanted else None
    creation = geotiff.profile(grid.width, grid.height, len(band_names), geotiff.block_for(chunk, grid.width, grid.height),
                               crs=grid.crs, transform=grid.transform, nodata=NODATA)

    def describe(ds) -> None:
        for i, name in enumerate(band_names, 1):
            ds.set_band_description(i, name)
        ds.colorinterp = colour_interpretation(band_names)

    with geotiff.TileWriter(tif, creation, describe) as out:
        for part in parts:
            out.put(part.col_off, part.row_off, part.width, part.blob, part.spans)
            if moments is not None:
                moments.merge(part.moments)
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


__all__ = ["encoder", "encode", "write", "read_geotiff_bytes", "GEOTIFF", "MEDIA_TYPES", "FILES"]
