"""Synthetic global DEM as a pure function of (lon, lat, seed).

Two scales, so that any block of any output width can be computed alone:

* continental fields (coastlines, shelves, ocean floor, mountain belts) live on
  a fixed 0.25 degree grid, computed once per seed with domain warping and then
  resampled smoothly to the block's pixel centres;
* relief (ridged multifractal mountains, fBm hills) is lattice noise evaluated
  directly at the block's lon/lat, with more octaves at finer widths.

Both are functions of lon/lat, so the 4320 and 43200 px DEMs show the same
continents and ranges; the larger one only adds finer ridges.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

from .noise import fbm, lattice_noise, sample_grid

DEM_SEED = 1
DEM_NODATA = -32768
COARSE_WIDTH = 1440  # 0.25 degree continental grid (1440 x 720)
LAND_FRACTION = 0.30  # share of the (area weighted) globe above sea level
RELIEF_CELLS = 180  # lattice cells around the globe for the first relief octave (2 deg)
RIDGE_H = 0.3  # spectral exponent: octave k weighs 2**(-H k); lower = rougher
HILL_GAIN = 0.6


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
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
    sea_level = np.quantile(cont, 1.0 - LAND_FRACTION, weights=area, method="inverted_cdf")
    c = (cont - sea_level).astype(np.float32)

    land = 1200.0 * np.tanh(np.maximum(c, 0) / 1.3) * (0.5 + 0.5 * smoothstep(-0.3, 0.3, field(8, 3, 5)))
    depth = 1500.0 * np.minimum(-c, 0.08) + 3900.0 * smoothstep(0.08, 0.5, -c) + 1300.0 * smoothstep(0.5, 2.0, -c)
    # mid-ocean ridges: zero-crossings of a warped low-frequency field, only in deep water
    z = _standardise(_warped(field(5, 3, 7), du, dv), area)
    depth -= 2300.0 * np.exp(-((z / 0.12) ** 2)) * smoothstep(0.6, 1.2, -c)
    base = np.where(c >= 0, land, -depth)

    # orogenic belts: narrow bands along zero-crossings of another warped field,
    # strongest near coasts and inland (Andes / Himalaya), fading on the shelf
    z = _standardise(_warped(field(6, 4, 3), du * 0.6, dv * 0.6), area)
    z2 = _standardise(_warped(field(10, 3, 4), du * 0.4, dv * 0.4), area)
    belt = np.exp(-((z / 0.3) ** 2)) + 0.5 * np.exp(-((z2 / 0.25) ** 2))
    belt *= smoothstep(-0.3, 0.4, c) * (0.45 + 0.55 * smoothstep(-0.5, 0.5, _standardise(field(12, 3, 9), area)))
    mountains = 6000.0 * np.minimum(belt, 1.2) + 1400.0 * smoothstep(0.1, 1.2, c)  # plus uplands inland
    hills = np.where(c >= 0, 150.0 + 250.0 * smoothstep(0.0, 1.0, c), 250.0)
    base += 0.9 * hills * smoothstep(0.0, 0.4, c)  # keep hill troughs inland above sea level
    return base.astype(np.float32), mountains.astype(np.float32), hills.astype(np.float32)


def relief_octaves(width: int) -> int:
    """Relief octaves until the lattice cell shrinks to ~2.5 pixels (at least those of 4320 px).

    Below 4320 px the DEM is a point sample of the 4320 px terrain, so small
    test DEMs keep real peaks and slopes instead of a smoothed-out globe.
    """
    return max(4, int(np.floor(np.log2(width / (RELIEF_CELLS * 2.5)))) + 1)


def relief(lon: np.ndarray, lat: np.ndarray, octaves: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(ridged multifractal in ~[0, 1], fBm in ~[-1, 1]) sharing the same octave noises.

    Ridged multifractal (Musgrave): each octave is weighted by the previous
    signal, so detail piles up on ridges while valleys stay smooth.
    """
    u0 = (lon + 180.0) / 360.0 * RELIEF_CELLS
    v0 = (90.0 - lat) / 180.0 * RELIEF_CELLS / 2
    shape = (lat.size, lon.size)
    ridged, hills = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    signal, weight = np.empty(shape, np.float32), np.ones(shape, np.float32)
    for k in range(octaves):  # in-place ops: blocks are large, temporaries are costly
        f = 2**k
        n = lattice_noise(u0 * f, v0 * f, seed + 7919 * (k + 1), RELIEF_CELLS * f)
        np.abs(n, out=signal)
        np.minimum(signal, 1.0, out=signal)
        np.subtract(1.0, signal, out=signal)
        np.square(signal, out=signal)
        signal *= weight
        np.multiply(signal, 2.0, out=weight)
        np.minimum(weight, 1.0, out=weight)
        signal *= np.float32(2.0 ** (-RIDGE_H * k))
        ridged += signal
        n *= np.float32(HILL_GAIN**k)
        hills += n
    # fixed normalisation (~99th percentile at 4 octaves is 1) so that the extra
    # octaves of larger widths only add detail on top of the same shapes
    ridged /= 2.5
    hills /= 1.2
    return ridged, hills


def dem_block(row0: int, nrows: int, width: int, seed: int = DEM_SEED) -> np.ndarray:
    """Elevation in metres (int16) for rows [row0, row0 + nrows) of a width x width//2 DEM.

    A pure function of global pixel coordinates: blocks can be computed in any
    order or in parallel and still join seamlessly.
    """
    lon, lat = pixel_centres(width)
    lat = lat[row0 : row0 + nrows]
    base, mountains, hill_amp = continental_fields(seed)
    # continental grid index coordinates of this block's pixel centres
    scale = COARSE_WIDTH / 360.0
    u = (lon + 180.0) * scale - 0.5
    v = (90.0 - lat) * scale - 0.5
    ridged, hills = relief(lon, lat, relief_octaves(width), seed)
    ridged **= 1.5
    ridged *= sample_grid(mountains, u, v, wrap_u=True)
    hills *= sample_grid(hill_amp, u, v, wrap_u=True)
    elev = sample_grid(base, u, v, wrap_u=True)
    elev += ridged
    elev += hills
    # soft ceiling: peaks above 6000 m are compressed towards 8800 m instead of clipped flat
    high = elev > 6000.0
    elev[high] = 6000.0 + 2800.0 * np.tanh((elev[high] - 6000.0) / 2800.0)
    return np.clip(np.rint(elev), -10990, 8800).astype(np.int16)
