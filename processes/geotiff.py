"""A tiled GeoTIFF whose tiles are compressed where they were computed.

Compressing a region's output is most of a job's cost after the computation itself (deflate with
the floating-point predictor: about twice a DEM chunk's slope(hillshade)). Done by the one process
that writes the file, it caps a job at that process's speed however many workers compute. So each
worker compresses its own chunk: GDAL writes the chunk as a small in-memory GeoTIFF with the output's
tiling and compression (`encode_tiles`), and the chunk travels as those compressed tiles. The writer
(`TileWriter`) lets GDAL create the output with every tag it needs but no tile (`SPARSE_OK`), appends
the tiles as they arrive and finally fills in the TIFF's tile offsets and byte counts, the only part
GDAL's API cannot write from outside (tifffile finds where they are).

Chunk windows must start on tile boundaries: tiles of a chunk are then tiles of the output, and an
edge chunk's partial tiles are the output's partial tiles.
"""
from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import rasterio
import tifffile
from rasterio.io import MemoryFile

_PLACED = rasterio.Affine(1.0, 0.0, 1.0, 0.0, -1.0, 1.0)  # a chunk's tiles need no place; rasterio warns without one
# deflate's fastest level: on slope and hillshade chunks 45 % and 60 % less CPU than the default 6, for
# files 1-2 % larger (the floating-point predictor does most of the work); readers see no difference
ZLEVEL = 1
_TYPES = {3: "H", 4: "I", 16: "Q"}  # TIFF's SHORT, LONG, LONG8 as struct formats
Spans = tuple[tuple[int, int], ...]  # (offset, length) of each compressed tile in a blob, row by row


def profile(width: int, height: int, count: int, block: int, **extra: Any) -> dict:
    """GDAL creation options of the tiled float32 output (also used for each chunk's tiles)."""
    return {"driver": "GTiff", "width": width, "height": height, "count": count, "dtype": "float32",
            "compress": "deflate", "predictor": 3, "zlevel": ZLEVEL, "tiled": True, "blockxsize": block, "blockysize": block,
            "interleave": "pixel", "BIGTIFF": "IF_SAFER"} | extra


def encode_tiles(data: np.ndarray, block: int) -> tuple[bytes, Spans]:
    """(bands, h, w) float32 -> the GeoTIFF tiles GDAL makes of it: one blob and each tile's span."""
    count, h, w = data.shape
    with MemoryFile() as mem:
        with mem.open(**profile(w, h, count, block, transform=_PLACED)) as ds:
            ds.write(data)
        blob = mem.read()
    page = tifffile.TiffFile(io.BytesIO(blob)).pages[0]
    return blob, tuple(zip(page.dataoffsets, page.databytecounts))


class TileWriter:
    """Writes a tiled GeoTIFF from compressed tiles: `put` each chunk's tiles, then `close`."""

    def __init__(self, path: Path, creation: dict, describe: Any = None) -> None:
        """`creation`: `profile(...)` plus crs, transform, nodata; `describe(ds)` sets what else GDAL
        should write (band descriptions, colour interpretation) while the file is open."""
        self.path, self.block = path, creation["blockxsize"]
        with rasterio.open(path, "w", SPARSE_OK=True, **creation) as ds:
            if describe is not None:
                describe(ds)
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            offsets, counts = page.tags["TileOffsets"], page.tags["TileByteCounts"]
            # where each array is and its integer type (libtiff picks LONG or LONG8 per tag)
            self._arrays = [(tag.valueoffset, tif.byteorder + _TYPES[int(tag.dtype)]) for tag in (offsets, counts)]
            self._limit = 2**64 if tif.is_bigtiff else 2**32
            assert offsets.count == counts.count and page.planarconfig == 1, "one tile per position expected"
        self.across = -(-creation["width"] // self.block)
        self.offsets = [0] * offsets.count
        self.counts = [0] * offsets.count
        self._file = open(path, "r+b")
        self._file.seek(0, io.SEEK_END)

    def put(self, col_off: int, row_off: int, width: int, blob: bytes, spans: Spans) -> None:
        """The tiles of the chunk of `width` px at (col_off, row_off), as `encode_tiles` made them."""
        if col_off % self.block or row_off % self.block:
            raise ValueError(f"a chunk at ({col_off}, {row_off}) does not start on a {self.block} px tile")
        per_row = -(-width // self.block)
        view = memoryview(blob)
        for k, (offset, length) in enumerate(spans):
            i = (row_off // self.block + k // per_row) * self.across + col_off // self.block + k % per_row
            if length:  # an empty tile stays sparse (offset 0): readers see nodata
                self.offsets[i] = self._file.tell()
                self.counts[i] = length
                self._file.write(view[offset:offset + length])
        if self._file.tell() >= self._limit:
            raise OverflowError(f"{self.path.name} outgrew a classic TIFF; it needs BIGTIFF=YES")

    def close(self) -> None:
        """Writes the tile offsets and byte counts: the file is a complete GeoTIFF from here on."""
        if self._file.closed:
            return
        with self._file as f:
            for (at, fmt), values in zip(self._arrays, (self.offsets, self.counts)):
                f.seek(at)
                f.write(struct.pack(fmt[0] + fmt[1] * len(values), *values))

    def __enter__(self) -> "TileWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def block_for(chunk: int, width: int, height: int, largest: int = 256) -> int:
    """The output's tile side: the largest power of two up to `largest` (at least 16, TIFF's
    multiple) that divides the chunk side, so chunks start on tiles; no bigger than the output
    needs when it is one chunk."""
    block = largest
    while block > 16 and chunk % block:
        block //= 2
    if width <= chunk and height <= chunk:
        block = min(block, max(16, -(-max(width, height) // 16) * 16))
    return block


def aligned_chunk(chunk: int) -> int:
    """A chunk side that starts every chunk on a TIFF tile (a multiple of 16)."""
    return max(16, chunk - chunk % 16)


__all__: Sequence[str] = ["profile", "encode_tiles", "TileWriter", "block_for", "aligned_chunk", "Spans"]
