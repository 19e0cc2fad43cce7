"""A numpy reference of the burn severity, read straight from the scene COGs: per-pixel medians of
NBR over the clear observations of each window (SCL classes 0, 3, 8, 9, 10 removed, the
composite's documented default), dNBR, cropland masked, USGS classes (numpy.digitize)."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio

from processes.workflows.fire import USGS_THRESHOLDS
from processes.zonal.engine import native_grid

REMOVED = (0, 3, 8, 9, 10)


def _read(href: str, shape: tuple[int, int]) -> np.ndarray:
    with rasterio.open(href) as ds:
        a = ds.read(1).astype(np.float32)
        nodata, scale, offset = ds.nodata, ds.scales[0], ds.offsets[0]
    if nodata is not None:
        a[a == nodata] = np.nan
    k = shape[0] // a.shape[0]
    return np.repeat(np.repeat(a, k, 0), k, 1) if k > 1 else a


def median_nbr(s2, window: str, shape: tuple[int, int]) -> np.ndarray:
    stack = []
    for item in s2.select(window):
        b = {a.bands[0]: a for a in item.assets}
        nir, swir, scl = (_read(b[n].href, shape) for n in ("B08", "B12", "SCL"))
        rb = {n: (b[n].scale[0], b[n].offset[0]) for n in ("B08", "B12")}
        nir, swir = nir * rb["B08"][0] + rb["B08"][1], swir * rb["B12"][0] + rb["B12"][1]
        with np.errstate(all="ignore"):
            v = (nir - swir) / (nir + swir)
        v[np.isin(scl, REMOVED) | np.isnan(scl)] = np.nan
        stack.append(v)
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmedian(np.stack(stack), axis=0)


def reference_severity(s2, landcover_href: str, year: int, season=("09-01", "10-31")) -> tuple[np.ndarray, np.ndarray]:
    """(dNBR, class) on the native grid, NaN where masked or never seen clear."""
    grid = native_grid(s2)
    shape = (grid.height, grid.width)
    pre = median_nbr(s2, f"{year - 1}-{season[0]}/{year - 1}-{season[1]}", shape)
    post = median_nbr(s2, f"{year}-{season[0]}/{year}-{season[1]}", shape)
    dnbr = pre - post
    dnbr[_read(landcover_href, shape) == 3] = np.nan
    classes = np.digitize(dnbr, USGS_THRESHOLDS).astype(np.float32) - 2
    classes[np.isnan(dnbr)] = np.nan
    return dnbr, classes


@pytest.fixture(scope="module")
def s2(client):
    return client.app.state.services.lookup("sentinel2")
