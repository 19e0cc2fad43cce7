"""The generator's truth, for validating methods against what was painted (no I/O).

Everything is computed from the same pure functions that drew the rasters: per fire and per
protected site the burned area in hectares on the ellipsoid (each 10 m UTM cell weighted by its
true ground area), burned pixel masks on the AOI grid, land-cover classes and harvest dates per
parcel. ``size`` is a demo size name ("default" or "large").
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import numpy as np
from pyproj import Proj, Transformer

from . import landscape as L
from . import phenology
from . import sentinel2 as S
from .sizes import window

LANDCOVER_CLASSES = S.LANDCOVER_CLASSES
YEARS = (2021, 2022, 2023)
_UTM = Proj(L.AOI_CRS)
_TO_LONLAT = Transformer.from_crs(L.AOI_CRS, "OGC:CRS84", always_xy=True)


def grid(size: str = "default") -> tuple[str, tuple[float, ...], tuple[int, int]]:
    """(CRS, affine transform (6 numbers), (rows, cols)) of the masks below (the 10 m bands' grid)."""
    win = window(size)
    return L.AOI_CRS, tuple(S.transform(win))[:6], (win.pixels, win.pixels)


def landcover(size: str = "default") -> np.ndarray:
    """Land-cover codes (keys of LANDCOVER_CLASSES) on the 10 m grid."""
    return S.landcover(window(size))[0]


def burned_masks(size: str = "default") -> dict[str, np.ndarray]:
    """Fire id -> boolean mask of the pixels it burned (10 m grid)."""
    return {f.id: m for f, m in zip(L.fires(), S.fire_masks(window(size)))}


def burned_any(size: str = "default") -> np.ndarray:
    return np.logical_or.reduce(list(burned_masks(size).values()))


def pixel_area_m2(size: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """True (ellipsoidal) ground area of grid cells: map area / the projection's areal scale."""
    rows, cols = np.asarray(rows), np.asarray(cols)
    if rows.size == 0:
        return np.zeros(0)
    t = S.transform(window(size))
    x, y = t * (cols + 0.5, rows + 0.5)
    lon, lat = _TO_LONLAT.transform(x, y)
    return L.PIXEL * L.PIXEL / np.asarray(_UTM.get_factors(lon, lat).areal_scale)


def _area_ha(size: str, mask: np.ndarray) -> float:
    rows, cols = np.nonzero(mask)
    return float(pixel_area_m2(size, rows, cols).sum() / 1e4) if rows.size else 0.0


@lru_cache(maxsize=2)
def burned_area_ha(size: str = "default") -> dict[str, float]:
    """Fire id -> burned area (ha)."""
    return {fid: _area_ha(size, m) for fid, m in burned_masks(size).items()}


@lru_cache(maxsize=2)
def site_masks(size: str = "default") -> dict[str, np.ndarray]:
    """Protected site id -> pixels whose centre lies inside the site (local sites only)."""
    win = window(size)
    return {props["id"]: S.rasterize_window(win, [(poly, 1)]) > 0 for props, poly in L.local_sites()}


@lru_cache(maxsize=2)
def site_burned_ha(size: str = "default") -> dict[str, dict[str, float]]:
    """Site id -> {fire id: burned ha inside the site, ..., "total": ha} (sites in the AOI only)."""
    fires = burned_masks(size)
    out = {}
    for sid, site in site_masks(size).items():
        per = {fid: _area_ha(size, site & m) for fid, m in fires.items()}
        per["total"] = _area_ha(size, site & np.logical_or.reduce(list(fires.values())))
        out[sid] = per
    return out


def unburned_sites(size: str = "default") -> list[str]:
    return [sid for sid, v in site_burned_ha(size).items() if v["total"] == 0.0]


def parcel_crops(size: str = "default") -> dict[str, str]:
    return {p.id: p.crop_type for p in L.parcels(window(size))}


def harvest_dates(size: str = "default") -> dict[str, dict[int, tuple[date, ...]]]:
    """Parcel id -> {year: dates of the abrupt drops (harvest, or the mowings of a meadow)}."""
    return {p.id: {y: phenology.harvest_dates(p.crop_type, p.key, y) for y in YEARS}
            for p in L.parcels(window(size))}


def parcel_index(size: str = "default") -> np.ndarray:
    """Parcel raster (0 = none, i + 1 = the i-th parcel in parcel_crops order) on the 10 m grid."""
    return S.landcover(window(size))[1]
