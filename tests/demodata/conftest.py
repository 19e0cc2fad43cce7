"""The session's demo data (built once by the first fixture that asks, shared with the app tests)
and small readers that apply the L2A scale and offset themselves (independent of the engine)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

import demodata
from demodata import stac
from demodata.scenes import calendar


@pytest.fixture(scope="session")
def demo(settings) -> dict[str, Path]:
    return demodata.build_demo_data(settings.data_dir, size=settings.demo_size, dem_width=settings.dem_width)


def read(path: Path, **kw) -> np.ndarray:
    with rasterio.open(path, **kw) as ds:
        return ds.read()


def item_doc(demo, day: str) -> dict:
    return json.loads((demo["s2_items"] / f"S2_{day}.json").read_text())


def scene(day: str):
    return next(s for s in calendar() if s.date.isoformat() == day)


def band(demo, day: str, name: str, at_10m: bool = True) -> np.ndarray:
    """Reflectance of one band (scale and offset from the item's raster:bands), on the 10 m grid."""
    asset = item_doc(demo, day)["assets"][name]
    rb = asset["raster:bands"][0]
    dn = read(demo["s2_items"] / stac.scene_files(scene(day))[name])[0]
    refl = np.where(dn == rb["nodata"], np.nan, dn * rb["scale"] + rb["offset"]).astype(np.float32)
    if at_10m and asset["gsd"] == 20.0:
        refl = np.repeat(np.repeat(refl, 2, axis=0), 2, axis=1)
    return refl


def scl(demo, day: str, at_10m: bool = True) -> np.ndarray:
    s = read(demo["s2_items"] / stac.scene_files(scene(day))["SCL"])[0]
    return np.repeat(np.repeat(s, 2, axis=0), 2, axis=1) if at_10m else s


def clear(demo, day: str) -> np.ndarray:
    """Pixels SCL calls vegetation, not vegetated or water (no cloud, shadow, cirrus, no-data)."""
    return np.isin(scl(demo, day), (4, 5, 6))


def nd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a - b) / (a + b)


def nbr(demo, day: str) -> np.ndarray:
    return nd(band(demo, day, "B08"), band(demo, day, "B12"))


def ndvi(demo, day: str) -> np.ndarray:
    return nd(band(demo, day, "B08"), band(demo, day, "B04"))
