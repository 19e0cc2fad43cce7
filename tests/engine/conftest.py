"""Synthetic COGs for engine tests: a global lon/lat DEM with overviews and a small UTM raster."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_bounds
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles

from processes.engine.sources import Asset, Item, ItemSource


def write_cog(path: Path, data: np.ndarray, crs: str, bounds, names, nodata=None, resampling="average") -> str:
    raw = path.with_suffix(".raw.tif")
    count, h, w = data.shape
    with rasterio.open(raw, "w", driver="GTiff", width=w, height=h, count=count, dtype=data.dtype.name, crs=crs,
                       transform=from_bounds(*bounds, w, h), nodata=nodata) as ds:
        ds.write(data)
        for i, n in enumerate(names, 1):
            ds.set_band_description(i, n)
    cog_translate(str(raw), str(path), cog_profiles.get("deflate"), overview_resampling=resampling, quiet=True)
    raw.unlink()
    return str(path)


def terrain(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return (1500 * np.sin(x / 37.0) * np.cos(y / 23.0) + 400 * np.sin(x / 5.3 + y / 7.1) + 800).astype(np.float32)


@pytest.fixture(scope="session")
def dem_path(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("engine")
    return write_cog(d / "dem.tif", terrain(540, 1080)[None], "EPSG:4326", (-180, -90, 180, 90), ["elevation"], -32768)


@pytest.fixture(scope="session")
def dem(dem_path: str) -> ItemSource:
    return ItemSource("dem", (Item("dem", (Asset(dem_path, ("elevation",)),)),), "v1")


@pytest.fixture(scope="session")
def utm_path(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("utm")
    rng = np.random.default_rng(1)
    data = np.stack([terrain(400, 400), rng.uniform(0, 3000, (400, 400)).astype(np.float32)])
    return write_cog(d / "utm.tif", data, "EPSG:32631", (600000, 4800000, 604000, 4804000), ["elevation", "noise"], -32768)
