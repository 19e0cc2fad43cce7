"""The demo DEMs: valid COGs, the Sentinel-2 area on land with hills where the scenes have wooded
hills, slopes like a real DEM's at each scale, and a regional 1" DEM consistent with the global one.

Slopes and hillshade are computed here with numpy (central differences on ground distances) and
with the project's hillshade operation (Horn), on grids the generator evaluates directly.
"""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rio_cogeo.cogeo import cog_validate

from demodata import landscape, sentinel2, sizes, terrain, truth
from processes.ops._base import Raster
from processes.ops.hillshade import HillshadeParams, hillshade

R = 6_371_008.8


def slope_deg(z: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    dx = R * np.cos(np.radians(lat))[:, None] * np.radians(lon[1] - lon[0])
    dy = R * np.radians(abs(lat[1] - lat[0]))
    gy, gx = np.gradient(z.astype(np.float64))
    return np.degrees(np.arctan(np.hypot(gx / dx, gy / dy)))


def shade(z: np.ndarray, lat: np.ndarray, lon_step: float) -> np.ndarray:
    cx = R * np.cos(np.radians(lat)) * np.radians(lon_step)
    cy = np.full(lat.shape, R * np.radians(abs(lat[1] - lat[0])))
    r = Raster(z[None].astype(np.float32), np.ones(z.shape, bool), ("elevation",), cx, cy)
    return hillshade({"data": r}, HillshadeParams()).data[0][1:-1, 1:-1]


def grid(w: float, s: float, e: float, n: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(w + step / 2, e, step), np.arange(n - step / 2, s, -step)


def test_dems_are_valid_cogs(demo, settings):
    for key, width in (("dem", settings.dem_width), ("dem_detail", terrain.detail_shape()[0])):
        valid, errors, _ = cog_validate(demo[key], quiet=True)
        assert valid, errors
        with rasterio.open(demo[key]) as ds:
            assert ds.crs.to_epsg() == 4326 and ds.width == width and ds.nodata == terrain.DEM_NODATA
            assert ds.descriptions == ("elevation",) and ds.overviews(1)
            assert ds.tags()["OVERVIEW_RESAMPLING"] == "AVERAGE"
    with rasterio.open(demo["dem_detail"]) as ds:
        assert tuple(ds.bounds) == pytest.approx(terrain.DETAIL_BOUNDS)
        assert ds.res == pytest.approx((1 / 3600, 1 / 3600))
    with rasterio.open(demo["dem"]) as ds:
        assert tuple(ds.bounds) == pytest.approx((-180, -90, 180, 90))
        dem = ds.read(1)
    land = (dem > 0).mean()
    assert 0.2 < land < 0.5 and dem.min() < -3000 and dem.max() > 3000


def test_the_sentinel2_area_is_on_land_with_hills_where_the_scenes_have_them(demo):
    win = sizes.window("default")
    to_lonlat = Transformer.from_crs(landscape.AOI_CRS, "OGC:CRS84", always_xy=True)
    # the 10 m grid's pixel centres, every 8th, sampled in the regional DEM
    rows, cols = np.mgrid[4:win.pixels:8, 4:win.pixels:8]
    x, y = sentinel2.transform(win) * (cols + 0.5, rows + 0.5)
    lon, lat = to_lonlat.transform(x, y)
    with rasterio.open(demo["dem_detail"]) as ds:
        z = np.array([v[0] for v in ds.sample(zip(lon.ravel(), lat.ravel()))], float).reshape(rows.shape)
    assert z.min() > 10, "the whole AOI is land"
    lc = truth.landcover()[rows, cols]
    hills = (x - landscape.ORIGIN[0]) > landscape.hills_boundary_x(y - landscape.ORIGIN[1]) + 1_500
    plain = (x - landscape.ORIGIN[0]) < landscape.hills_boundary_x(y - landscape.ORIGIN[1]) - 300
    assert np.median(z[hills]) > np.median(z[plain]) + 100
    assert (lc[hills] == sentinel2.FOREST).mean() > 0.5 and (lc[plain] == sentinel2.CROPLAND).mean() > 0.4
    lon1, lat1 = grid(*to_lonlat.transform_bounds(*win.bounds), 1 / 3600)
    s = slope_deg(terrain.elevation(lon1, lat1, 1 / 3600), lon1, lat1)
    assert np.median(s[:, : s.shape[1] // 4]) < 3, "the parcels lie on a plain"
    with rasterio.open(demo["dem"]) as ds:  # the global DEM has land there too
        assert all(v[0] > 0 for v in ds.sample([(terrain.AOI_LONLAT[0], terrain.AOI_LONLAT[1])]))


def test_global_dem_slopes_and_hillshade_like_a_real_dem():
    """At 5 arc-minutes (~9 km) mountain ranges keep slopes of several degrees; z_factor 1 shades them."""
    step = 360 / 4320
    lon, lat = grid(-20, 30, 40, 60, step)  # a continent-sized window
    z = terrain.elevation(lon, lat, step)
    land = z > 200
    s = slope_deg(z, lon, lat)[land]
    assert 1 < np.median(s) < 8 and 6 < np.percentile(s, 95) < 35
    hs = shade(z, lat, step)[land[1:-1, 1:-1]]
    # the old demo DEM (smooth relief) gave a standard deviation of 1-3 grey levels here
    assert hs.std() > 6 and np.percentile(hs, 95) - np.percentile(hs, 5) > 20
    # coarser (zoom 3, ~36 km): fainter, but still relief, not a flat grey
    coarse = z[::4, ::4].astype(np.float32)
    hs4 = shade(coarse, lat[::4], step * 4)[(coarse > 200)[1:-1, 1:-1]]
    assert hs4.std() > 2


def test_regional_dem_has_fine_scale_relief():
    """At 1 arc-second (~30 m) the hills have slopes of tens of degrees; the 9 km view of the same
    terrain stays at several degrees (steeper at finer scales, as on real DEMs)."""
    lon, lat = grid(4.30, 43.30, 4.50, 43.50, 1 / 3600)
    z = terrain.elevation(lon, lat, 1 / 3600)
    s = slope_deg(z, lon, lat)
    east = s[:, s.shape[1] // 3:]
    assert np.percentile(east, 90) > 10 and np.percentile(east, 99) > 18 and east.max() < 75
    assert shade(z, lat, 1 / 3600).std() > 8


def test_regional_and_global_dem_are_the_same_terrain(demo):
    """Block means of the 1" DEM over 0.05 degree cells follow the terrain evaluated at 0.05 degrees."""
    with rasterio.open(demo["dem_detail"]) as ds:
        z = ds.read(1).astype(np.float64)
    cell = 180  # 0.05 degrees
    h, w = (z.shape[0] // cell) * cell, (z.shape[1] // cell) * cell
    means = z[:h, :w].reshape(h // cell, cell, w // cell, cell).mean(axis=(1, 3))
    west, _, _, north = terrain.DETAIL_BOUNDS
    lon = west + (np.arange(w // cell) + 0.5) * 0.05
    lat = north - (np.arange(h // cell) + 0.5) * 0.05
    coarse = terrain.elevation(lon, lat, 360 / 4320).astype(np.float64)
    assert np.corrcoef(means.ravel(), coarse.ravel())[0, 1] > 0.9
    assert np.median(np.abs(means - coarse)) < 150


def test_dem_blocks_are_coherent_and_resolution_independent():
    width = 720
    full = terrain.dem_block(0, 64, width)
    assert np.array_equal(terrain.dem_block(20, 17, width), full[20:37])
    fine = terrain.dem_block(0, width, 2 * width).astype(np.float32)
    coarse = terrain.dem_block(0, width // 2, width).astype(np.float32)
    down = fine.reshape(width // 2, 2, width, 2).mean(axis=(1, 3))
    assert np.corrcoef(down.ravel(), coarse.ravel())[0, 1] > 0.95
    assert ((down > 0) == (coarse > 0)).mean() > 0.95
