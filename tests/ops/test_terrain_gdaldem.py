"""Hillshade, slope and aspect against an independent implementation: `gdaldem` (Debian's GDAL 3.6
command line) on the same DEM grid, in a projected CRS and in EPSG:4326.

The kernels take the ground cell size of each row from the grid (`Grid.cell_sizes`):
- projected CRS: the pixel size in metres, as gdaldem uses it;
- EPSG:4326: north-south `dlat * pi/180 * R`, east-west `dlon * pi/180 * R * cos(lat)`. gdaldem 3.6 has
  one `-s` scale for both axes, so it computes the same thing only where cos(lat) is 1: at the equator
  it is given `-s pi/180*R`; at 60 degrees north it is given a copy of the DEM whose pixel width is
  `dlon * cos(60)` (the ground spacing the rule says), which is exact on the centre row and within
  +-0.1 % of it across the band.
"""
from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from processes.engine.grid import EARTH_RADIUS, Grid
from processes.ops import Raster
from processes.ops.aspect import AspectParams, aspect
from processes.ops.hillshade import HillshadeParams, hillshade
from processes.ops.slope import SlopeParams, slope

GDALDEM = shutil.which("gdaldem")
pytestmark = pytest.mark.skipif(GDALDEM is None, reason="gdaldem not installed (Debian gdal-bin; `make system-deps`)")
ROWS, COLS = 120, 140


def relief(seed: int = 7) -> np.ndarray:
    """Hills and valleys up to ~35 degrees on a 30 m grid (a sum of Gaussian bumps on a tilted plane)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:ROWS, 0:COLS].astype(np.float64)
    z = 300 + 2.0 * x + 1.0 * y
    for _ in range(25):
        cy, cx, s, h = rng.uniform(0, ROWS), rng.uniform(0, COLS), rng.uniform(4, 15), rng.uniform(-250, 400)
        z += h * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))
    return z.astype(np.float32)


def write(path: Path, z: np.ndarray, crs: str, transform) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=z.shape[1], height=z.shape[0], count=1, dtype="float32",
                       crs=crs, transform=transform) as ds:
        ds.write(z[None])
    return path


def gdaldem(mode: str, src: Path, tmp: Path, *args: str) -> np.ndarray:
    out = tmp / f"{mode}.tif"
    subprocess.run([GDALDEM, mode, "-q", *args, str(src), str(out)], check=True, capture_output=True, timeout=60)
    with rasterio.open(out) as ds:
        return ds.read(1).astype(np.float64)


def raster(z: np.ndarray, grid: Grid) -> Raster:
    cx, cy = grid.cell_sizes()
    return Raster(z[None], np.ones(z.shape, bool), ("elevation",), cx, cy)


def inner(a: np.ndarray) -> np.ndarray:
    return a[1:-1, 1:-1]


def compare(z: np.ndarray, grid: Grid, src: Path, tmp: Path, scale: str, slope_tol: float) -> None:
    r = raster(z, grid)
    # slope, degrees
    ours = slope({"data": r}, SlopeParams()).data[0]
    ref = gdaldem("slope", src, tmp, "-s", scale)
    assert inner(ref).max() > 20  # the terrain has real slopes
    np.testing.assert_allclose(inner(ours), inner(ref), atol=slope_tol)
    # aspect, degrees clockwise from north (compared on the circle)
    ours = aspect({"data": r}, AspectParams()).data[0]
    ref = gdaldem("aspect", src, tmp, "-s", scale)
    diff = np.abs((inner(ours) - inner(ref) + 180.0) % 360.0 - 180.0)
    steep = inner(slope({"data": r}, SlopeParams()).data[0]) > 1.0
    assert steep.mean() > 0.5 and diff[steep].max() < 20 * slope_tol
    # hillshade: gdaldem writes 1 + 254 * shade (1 where shadowed), ours 255 * shade
    for az, alt in ((315, 45), (135, 30)):
        ours = hillshade({"data": r}, HillshadeParams(azimuth=az, altitude=alt)).data[0] / 255.0
        ref = (gdaldem("hillshade", src, tmp, "-s", scale, "-az", str(az), "-alt", str(alt)) - 1.0) / 254.0
        assert inner(ref).std() > 0.05
        np.testing.assert_allclose(inner(ours), inner(ref), atol=0.006 + slope_tol / 50)


def test_projected_dem_matches_gdaldem(tmp_path):
    z = relief()
    transform = from_origin(500000, 4800000, 30, 30)
    src = write(tmp_path / "utm.tif", z, "EPSG:32631", transform)
    grid = Grid.from_bounds("EPSG:32631", (500000, 4800000 - 30 * ROWS, 500000 + 30 * COLS, 4800000), COLS, ROWS)
    compare(z, grid, src, tmp_path, "1", slope_tol=1e-3)


def test_geographic_dem_at_the_equator_matches_gdaldem(tmp_path):
    z = relief(11)
    d = 30 / (math.pi / 180 * EARTH_RADIUS)  # ~30 m cells, in degrees
    west, north = 10.0, ROWS * d / 2
    src = write(tmp_path / "geo.tif", z, "EPSG:4326", from_origin(west, north, d, d))
    grid = Grid.from_bounds("EPSG:4326", (west, north - ROWS * d, west + COLS * d, north), COLS, ROWS)
    compare(z, grid, src, tmp_path, str(math.pi / 180 * EARTH_RADIUS), slope_tol=2e-3)


def test_geographic_dem_at_60_north_follows_the_cos_latitude_rule(tmp_path):
    z = relief(13)
    d = 30 / (math.pi / 180 * EARTH_RADIUS)
    west, north = 10.0, 60.0 + ROWS * d / 2
    dlon = d / math.cos(math.radians(60.0))  # ~30 m east-west at 60 N
    grid = Grid.from_bounds("EPSG:4326", (west, north - ROWS * d, west + COLS * dlon, north), COLS, ROWS)
    # what gdaldem reads: the same values with the pixel width the rule gives (ground ~ isotropic)
    src = write(tmp_path / "geo60.tif", z, "EPSG:4326", from_origin(west, north, dlon * math.cos(math.radians(60.0)), d))
    compare(z, grid, src, tmp_path, str(math.pi / 180 * EARTH_RADIUS), slope_tol=0.1)
