"""Synthetic global terrain as a pure function of (lon, lat): the demo DEMs.

Three scales, so that any block of any grid can be computed alone and grids of different
resolutions show the same terrain (only finer ones add detail):

* continental fields (coastlines, shelves, ocean floor, mountain belts, relief amplitude) on a
  fixed 0.25 degree grid, computed once with domain warping and resampled smoothly;
* relief: a ridged multifractal (mountains) and fBm (hills) evaluated at the grid's lon/lat with
  octaves down to ~2.5 pixels of the grid. Octave amplitudes fall by ``GAIN`` (0.6, a Hurst
  exponent of ~0.74, as measured on real DEMs), so slopes steepen towards fine scales like real
  terrain: a few degrees at 9 km, tens of degrees at 30 m in the mountains;
* the demo region (:mod:`.landscape`): a flat agricultural plain with wooded hills to its east,
  blended into the global terrain, so the Sentinel-2 AOI is on land and the hills it shows are
  hills in the DEM.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyproj import Transformer
from scipy import ndimage

from . import landscape as L
from .noise import fbm, lattice_noise, sample_grid

DEM_SEED = 1
DEM_NODATA = -32768
COARSE_WIDTH = 1440  # 0.25 degree continental grid (1440 x 720)
LAND_FRACTION = 0.30  # share of the (area weighted) globe above sea level
RELIEF_CELLS = 720  # lattice cells around the globe for the first relief octave (0.5 deg, ~55 km)
GAIN = 0.62  # amplitude ratio between relief octaves (Hurst exponent ~0.7)
AOI_LONLAT = (4.30, 43.39)  # centre of the default Sentinel-2 AOI
DETAIL_BOUNDS = (3.8, 43.15, 4.8, 43.65)  # the 1 arc-second regional DEM (west, south, east, north)
DETAIL_RES = 1.0 / 3600.0
REGION = (3.2, 42.8, 5.4, 44.0)  # where the demo region's blend weight can be non-zero


def smoothstep(e0: float, e1, x):
    """Hermite ramp 0 -> 1 between e0 and e1 (e0 > e1 allowed for a falling ramp)."""
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def pixel_centres(width: int) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes (width) and latitudes (width // 2) of a global plate carree grid."""
    step = 360.0 / width
    lon = -180.0 + (np.arange(width) + 0.5) * step
    lat = 90.0 - (np.arange(width // 2) + 0.5) * step
    return lon, lat


def _warped(field: np.ndarray, du: np.ndarray, dv: np.ndarray) -> np.ndarray:
    """Sample a global grid at (row + dv, col + du): wraps in longitude, mirrors at poles."""
    pad = int(np.ceil(max(np.abs(du).max(), np.abs(dv).max()))) + 4
    ext = np.pad(field, ((pad, pad), (0, 0)), mode="reflect")
    ext = np.pad(ext, ((0, 0), (pad, pad)), mode="wrap")
    rows, cols = np.indices(field.shape, dtype=np.float32)
    return ndimage.map_coordinates(ext, [rows + dv + pad, cols + du + pad], order=3, mode="nearest")


def _standardise(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    mean = np.average(x, weights=weights)
    return (x - mean) / np.sqrt(np.average((x - mean) ** 2, weights=weights))


def _near_aoi(lon: np.ndarray, lat: np.ndarray, radius_deg: float) -> np.ndarray:
    d2 = ((lon[None, :] - AOI_LONLAT[0]) * np.cos(np.radians(AOI_LONLAT[1]))) ** 2 + (lat[:, None] - AOI_LONLAT[1]) ** 2
    return np.exp(-d2 / radius_deg**2)


@lru_cache(maxsize=2)
def continental_fields(seed: int = DEM_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(base elevation m, mountain amplitude m, hill amplitude m) on the 0.25 degree grid.

    Cached: ~1 M pixels, computed once per process and seed.
    """
    lon, lat = pixel_centres(COARSE_WIDTH)
    h = lat.size
    area = np.broadcast_to(np.cos(np.radians(lat))[:, None], (h, COARSE_WIDTH))

    def field(cells: int, octaves: int, s: int) -> np.ndarray:
        u = (lon + 180.0) / 360.0 * cells
        v = (90.0 - lat) / 180.0 * cells / 2
        return fbm(u, v, seed + s, octaves, period_u=cells)

    px_per_deg = COARSE_WIDTH / 360.0
    warp = 8.0 * px_per_deg / 0.3  # ~8 degrees of displacement for a 1-sigma warp field
    du, dv = field(6, 3, 11) * warp, field(6, 3, 12) * warp
    cont = _standardise(_warped(field(6, 7, 1), du, dv), area)
    cont = cont + 2.5 * smoothstep(-68.0, -80.0, lat)[:, None]  # an Antarctica
    cont = cont + 2.2 * _near_aoi(lon, lat, 9.0)  # a continent under the Sentinel-2 demo area
    sea_level = np.quantile(cont, 1.0 - LAND_FRACTION, weights=area, method="inverted_cdf")
    c = (cont - sea_level).astype(np.float32)

    land = 900.0 * np.tanh(np.maximum(c, 0) / 1.3) * (0.4 + 0.6 * smoothstep(-0.3, 0.3, field(8, 3, 5)))
    depth = 1500.0 * np.minimum(-c, 0.08) + 3900.0 * smoothstep(0.08, 0.5, -c) + 1300.0 * smoothstep(0.5, 2.0, -c)
    # mid-ocean ridges: zero-crossings of a warped low-frequency field, only in deep water
    z = _standardise(_warped(field(5, 3, 7), du, dv), area)
    depth -= 2300.0 * np.exp(-((z / 0.12) ** 2)) * smoothstep(0.6, 1.2, -c)
    base = np.where(c >= 0, land, -depth)

    # orogenic belts: bands along zero-crossings of warped fields, strongest inland, fading on the shelf
    z = _standardise(_warped(field(6, 4, 3), du * 0.6, dv * 0.6), area)
    z2 = _standardise(_warped(field(10, 3, 4), du * 0.4, dv * 0.4), area)
    belt = np.exp(-((z / 0.45) ** 2)) + 0.6 * np.exp(-((z2 / 0.4) ** 2))
    belt *= smoothstep(-0.3, 0.4, c) * (0.45 + 0.55 * smoothstep(-0.5, 0.5, _standardise(field(12, 3, 9), area)))
    uplands = 0.5 + 0.5 * smoothstep(-0.6, 0.6, _standardise(field(16, 3, 13), area))  # plateaus and hill country
    mountains = 3800.0 * np.minimum(belt, 1.3) + 1300.0 * uplands * smoothstep(0.0, 0.8, c)
    hills = np.where(c >= 0, 200.0 + 500.0 * uplands, 250.0)
    base += 0.9 * hills * smoothstep(0.0, 0.4, c)  # keep hill troughs inland above sea level
    return base.astype(np.float32), mountains.astype(np.float32), hills.astype(np.float32)


def relief_octaves(step_deg: float) -> int:
    """Relief octaves until the lattice cell shrinks to ~2.5 pixels of a grid of this step."""
    return max(4, int(np.floor(np.log2((360.0 / RELIEF_CELLS) / (2.5 * step_deg)))) + 1)


FINE_FROM = 3  # octaves from this one on (cells of 0.0625 deg, ~7 km, and finer) make the "fine" relief


def relief(lon: np.ndarray, lat: np.ndarray, octaves: int, seed: int) -> tuple[np.ndarray, ...]:
    """(ridged multifractal in ~[0, 1], fBm in ~[-1, 1], and their octaves >= FINE_FROM alone).

    Ridged multifractal (Musgrave): each octave is weighted by the previous signal, so detail
    piles up on ridges and steep flanks while valley floors stay smoother. The fine parts shape
    the demo region's hills and plain, whose size is below the first octaves.
    """
    u0 = (lon + 180.0) / 360.0 * RELIEF_CELLS
    v0 = (90.0 - lat) / 180.0 * RELIEF_CELLS / 2
    shape = (lat.size, lon.size)
    ridged, hills = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    signal, weight = np.empty(shape, np.float32), np.ones(shape, np.float32)
    fine_r, fine_h = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    for k in range(octaves):  # in-place ops: blocks are large, temporaries are costly
        if k == FINE_FROM:
            fine_r -= ridged
            fine_h -= hills
        f = 2**k
        n = lattice_noise(u0 * f, v0 * f, seed + 7919 * (k + 1), RELIEF_CELLS * f)
        np.abs(n, out=signal)
        np.minimum(signal, 1.0, out=signal)
        np.subtract(1.0, signal, out=signal)
        np.square(signal, out=signal)
        signal *= weight
        np.multiply(signal, 1.6, out=weight)
        np.clip(weight, 0.35, 1.0, out=weight)
        signal *= np.float32(GAIN**k)
        ridged += signal
        n *= np.float32(GAIN**k)
        hills += n
    fine_r += ridged
    fine_h += hills
    # fixed normalisation, so that the extra octaves of finer grids only add detail
    ridged /= 1.6
    fine_r /= np.float32(1.6 * GAIN**FINE_FROM)
    fine_h /= np.float32(GAIN**FINE_FROM)
    return ridged, hills, fine_r, fine_h


@lru_cache(maxsize=1)
def _to_world() -> tuple[np.ndarray, np.ndarray]:
    """Affine lon/lat -> demo world metres around the AOI (origin, Jacobian), from pyproj."""
    t = Transformer.from_crs("OGC:CRS84", L.AOI_CRS, always_xy=True)
    lon0, lat0 = AOI_LONLAT
    e = 0.01
    x0, y0 = t.transform(lon0, lat0)
    xe, ye = t.transform(lon0 + e, lat0)
    xn, yn = t.transform(lon0, lat0 + e)
    jac = np.array([[(xe - x0) / e, (xn - x0) / e], [(ye - y0) / e, (yn - y0) / e]])
    return np.array([x0 - L.ORIGIN[0], y0 - L.ORIGIN[1]]), jac


def regional(lon: np.ndarray, lat: np.ndarray, fine_r: np.ndarray, fine_h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(elevation m, blend weight 0..1) of the demo region: a plain at ~40-90 m, hills east of it."""
    origin, jac = _to_world()
    dlon, dlat = lon[None, :] - AOI_LONLAT[0], lat[:, None] - AOI_LONLAT[1]
    x = origin[0] + jac[0, 0] * dlon + jac[0, 1] * dlat
    y = origin[1] + jac[1, 0] * dlon + jac[1, 1] * dlat
    hb = L.hills_boundary_x(y)
    hill = smoothstep(hb - 300.0, hb + 2_500.0, x)
    # a gentle plain with metre-scale undulation and sensor-like speckle (no 1 m contour terraces)
    speckle = lattice_noise(lon * 3600.0, -lat * 3600.0, DEM_SEED + 99) if lon.size > 1 and lon[1] - lon[0] < 0.002 else 0.0
    plain = 40.0 + 0.0012 * (x - L.WORLD[0]) + 30.0 * fine_h + 2.0 * speckle
    upland = 150.0 + 250.0 * smoothstep(hb + 1_000.0, hb + 15_000.0, x) + 520.0 * fine_r + 40.0 * fine_h
    elev = plain + hill * (upland - plain)
    cx, cy = (L.WORLD[0] + L.WORLD[2]) / 2, (L.WORLD[1] + L.WORLD[3]) / 2
    weight = smoothstep(45_000.0, 28_000.0, np.hypot(x - cx, y - cy))
    return elev.astype(np.float32), weight.astype(np.float32)


def elevation(lon: np.ndarray, lat: np.ndarray, step_deg: float, seed: int = DEM_SEED) -> np.ndarray:
    """Elevation in metres (int16) at the separable grid lon (cols) x lat (rows)."""
    base, mountains, hill_amp = continental_fields(seed)
    scale = COARSE_WIDTH / 360.0
    u = (lon + 180.0) * scale - 0.5
    v = (90.0 - lat) * scale - 0.5
    ridged, hills, fine_r, fine_h = relief(lon, lat, relief_octaves(step_deg), seed)
    elev = sample_grid(base, u, v, wrap_u=True)
    mountains = sample_grid(mountains, u, v, wrap_u=True)
    elev += mountains * (0.35 + ridged ** 1.3)  # massifs (uplift) carved by ridges and valleys
    elev += sample_grid(hill_amp, u, v, wrap_u=True) * hills
    cols = np.flatnonzero((lon > REGION[0]) & (lon < REGION[2]))
    rows = np.flatnonzero((lat > REGION[1]) & (lat < REGION[3]))
    if cols.size and rows.size:  # the demo region, blended in (its weight is 0 outside REGION)
        sub = np.ix_(rows, cols)
        local, w = regional(lon[cols], lat[rows], fine_r[sub], fine_h[sub])
        elev[sub] += w * (local - elev[sub])
    # soft ceiling: peaks above 6000 m are compressed towards 8800 m instead of clipped flat
    high = elev > 6000.0
    elev[high] = 6000.0 + 2800.0 * np.tanh((elev[high] - 6000.0) / 2800.0)
    return np.clip(np.rint(elev), -10990, 8800).astype(np.int16)


def dem_block(row0: int, nrows: int, width: int, seed: int = DEM_SEED) -> np.ndarray:
    """Rows [row0, row0 + nrows) of the global width x width//2 DEM (a pure function: blocks join seamlessly)."""
    lon, lat = pixel_centres(width)
    return elevation(lon, lat[row0 : row0 + nrows], 360.0 / width, seed)


def detail_shape() -> tuple[int, int]:
    w, s, e, n = DETAIL_BOUNDS
    return int(round((e - w) / DETAIL_RES)), int(round((n - s) / DETAIL_RES))


def detail_block(row0: int, nrows: int) -> np.ndarray:
    """Rows of the regional 1 arc-second DEM over DETAIL_BOUNDS."""
    w, _, _, n = DETAIL_BOUNDS
    width, _ = detail_shape()
    lon = w + (np.arange(width) + 0.5) * DETAIL_RES
    lat = n - (np.arange(row0, row0 + nrows) + 0.5) * DETAIL_RES
    return elevation(lon, lat, DETAIL_RES)
