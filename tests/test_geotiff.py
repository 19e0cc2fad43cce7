"""Tiles compressed chunk by chunk, assembled by `TileWriter`: the same GeoTIFF for every reader as
GDAL writing the whole array at once (rasterio, Debian's GDAL 3.6 command line, tifffile)."""
from __future__ import annotations

import random
import shutil
import subprocess

import numpy as np
import pytest
import rasterio
import tifffile
from rasterio.transform import from_origin

from processes import geotiff

pytestmark = pytest.mark.filterwarnings("error::rasterio.errors.NotGeoreferencedWarning")


def _array(bands: int, h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:h, 0:w]
    data = np.stack([np.sin(xx / 37.0 + b) * np.cos(yy / 23.0) * 1000 + rng.normal(0, 1, (h, w))
                     for b in range(bands)]).astype(np.float32)
    data[:, 5:40, 10:90] = np.nan  # nodata inside tiles, and one corner tile wholly empty
    data[:, -20:, -20:] = np.nan
    return data


def _creation(w: int, h: int, bands: int, block: int, **extra) -> dict:
    return geotiff.profile(w, h, bands, block, crs="EPSG:32631", transform=from_origin(500000, 4600000, 10, 10),
                           nodata=float("nan"), **extra)


def _assemble(path, data, chunk, block, order_seed=None, **extra) -> None:
    bands, h, w = data.shape
    windows = [(c, r) for r in range(0, h, chunk) for c in range(0, w, chunk)]
    if order_seed is not None:  # chunks arrive in any order
        random.Random(order_seed).shuffle(windows)

    def describe(ds):
        ds.set_band_description(1, "first")

    with geotiff.TileWriter(path, _creation(w, h, bands, block, **extra), describe) as out:
        for c, r in windows:
            piece = data[:, r:r + chunk, c:c + chunk]
            out.put(c, r, piece.shape[2], *geotiff.encode_tiles(np.ascontiguousarray(piece), block))


@pytest.mark.parametrize("bands, h, w, chunk, block, bigtiff", [
    (1, 700, 1000, 512, 256, "IF_SAFER"),  # partial tiles and chunks at the right and bottom edges
    (3, 300, 260, 128, 64, "YES"),         # pixel-interleaved bands, BigTIFF's 64-bit offsets
    (2, 100, 90, 1024, 112, "NO"),         # one chunk, one tile bigger than the image
])
def test_assembled_tiles_read_as_gdal_writing_it_whole(tmp_path, bands, h, w, chunk, block, bigtiff):
    data = _array(bands, h, w)
    ours, whole = tmp_path / "ours.tif", tmp_path / "whole.tif"
    _assemble(ours, data, chunk, block, order_seed=3, BIGTIFF=bigtiff)
    with rasterio.open(whole, "w", **_creation(w, h, bands, block, BIGTIFF=bigtiff)) as ds:
        ds.write(data)
        ds.set_band_description(1, "first")
    with rasterio.open(ours) as a, rasterio.open(whole) as b:
        np.testing.assert_array_equal(a.read(), b.read())
        np.testing.assert_array_equal(a.read(), data)
        assert np.isnan(a.nodata) and np.isnan(b.nodata)  # nan: compared apart, as nan != nan
        assert a.profile | {"nodata": 0} == b.profile | {"nodata": 0} and a.descriptions == b.descriptions and a.block_shapes == b.block_shapes
        assert a.tags(ns="IMAGE_STRUCTURE") == b.tags(ns="IMAGE_STRUCTURE")
    with tifffile.TiffFile(ours) as tif:
        assert tif.is_bigtiff == (bigtiff == "YES")
        np.testing.assert_array_equal(tif.asarray().reshape(h, w, bands).transpose(2, 0, 1), data)
    if shutil.which("gdalinfo"):  # Debian's GDAL (3.6 on Debian 12): the same checksums, no warning
        info = [subprocess.run(["gdalinfo", "-checksum", str(p)], capture_output=True, text=True) for p in (ours, whole)]
        checksums = [[line.strip() for line in i.stdout.splitlines() if "Checksum=" in line] for i in info]
        assert info[0].returncode == 0 and "ERROR" not in info[0].stderr + info[0].stdout
        assert checksums[0] == checksums[1] and len(checksums[0]) == bands


def test_tiles_never_put_read_as_nodata(tmp_path):
    data = _array(1, 512, 512)
    path = tmp_path / "sparse.tif"
    with geotiff.TileWriter(path, _creation(512, 512, 1, 256)) as out:
        out.put(256, 0, 256, *geotiff.encode_tiles(np.ascontiguousarray(data[:, :256, 256:]), 256))
    with rasterio.open(path) as ds:
        got = ds.read(1)
    np.testing.assert_array_equal(got[:256, 256:], data[0, :256, 256:])
    assert np.isnan(got[:, :256]).all() and np.isnan(got[256:]).all()


def test_a_chunk_off_the_tile_grid_is_refused(tmp_path):
    with geotiff.TileWriter(tmp_path / "x.tif", _creation(512, 512, 1, 256)) as out:
        blob, spans = geotiff.encode_tiles(np.zeros((1, 256, 256), np.float32), 256)
        with pytest.raises(ValueError, match="does not start on a 256 px tile"):
            out.put(100, 0, 256, blob, spans)


@pytest.mark.parametrize("chunk, w, h, block", [(1024, 5000, 5000, 256), (64, 500, 500, 64), (96, 500, 500, 32),
                                                (200, 500, 500, 64), (1024, 100, 90, 112), (1024, 5, 3, 16)])
def test_tile_side_divides_the_chunk(chunk, w, h, block):
    aligned = geotiff.aligned_chunk(chunk)  # 200 -> 192: every chunk starts on a tile
    assert aligned % 16 == 0 and aligned <= chunk
    assert geotiff.block_for(aligned, w, h) == block
    assert w <= aligned and h <= aligned or aligned % block == 0
