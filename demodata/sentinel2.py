"""Sentinel-2 L2A-like scenes over an AOI window (pure array generators, no I/O).

Each 10 m pixel is a linear mix of end-member spectra (:mod:`.spectra`): green vegetation,
forest canopy, dry vegetation or stubble, soil and char, plus water and urban pixels. The weights
follow the land cover: forest (a few deciduous patches lose leaves in winter), garrigue (green in
spring and autumn, dry in summer), crops per parcel on their calendar (:mod:`.phenology`: harvest
turns a crop into stubble), and fires, after their date, replace the cover by char with a
per-pixel severity and slow regrowth. Clouds, cirrus and cloud shadows differ per date, and part
of a scene may lie outside the swath. 20 m bands are the same surface averaged over 2 x 2 pixels
(mixing is linear), and SCL (20 m) flags every 20 m pixel that any cloud, cirrus or shadow touches.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from rasterio.features import rasterize
from rasterio.transform import Affine
from scipy import ndimage

from . import landscape as L
from . import phenology
from . import spectra as SP
from .noise import fbm, lattice_noise
from .scenes import Scene

S2_SEED = 2022
FOREST, GRASSLAND, CROPLAND, BARE, WATER, URBAN = 1, 2, 3, 4, 5, 6
LANDCOVER_CLASSES = {FOREST: "forest", GRASSLAND: "grassland", CROPLAND: "cropland",
                     BARE: "bare_soil", WATER: "water", URBAN: "urban"}
BURNABLE = (FOREST, GRASSLAND)
# Sentinel-2 L2A scene classification codes used here
SCL_CLASSES = {0: "no_data", 3: "cloud_shadows", 4: "vegetation", 5: "not_vegetated", 6: "water",
               8: "cloud_medium_probability", 9: "cloud_high_probability", 10: "thin_cirrus"}
SCL_CLOUDY = (8, 9, 10)  # what eo:cloud_cover counts (CLOUDY_PIXEL_PERCENTAGE of the product)
SCL_MASKED = (0, 3, 8, 9, 10)  # what a cloud-free composite leaves out


def transform(win: L.Window, res: float = L.PIXEL) -> Affine:
    w, _, _, n = win.bounds
    return Affine(res, 0.0, w, 0.0, -res, n)


def _world_axes(win: L.Window, res: float = L.PIXEL) -> tuple[np.ndarray, np.ndarray]:
    """World metres of pixel centres: x (columns), y (rows, north first)."""
    n = int(round(win.side / res))
    c = (np.arange(n) + 0.5) * res
    return win.x0 + c, win.y0 + win.side - c


def _noise(win: L.Window, cell_m: float, seed: int, octaves: int = 1, res: float = L.PIXEL) -> np.ndarray:
    """Smooth noise at world coordinates (the same field in every window)."""
    x, y = _world_axes(win, res)
    u, v = x / cell_m, -y / cell_m
    return fbm(u, v, seed, octaves) if octaves > 1 else lattice_noise(u, v, seed)


def rasterize_window(win: L.Window, shapes: list, dtype: str = "uint8") -> np.ndarray:
    if not shapes:
        return np.zeros((win.pixels, win.pixels), dtype)
    return rasterize(shapes, out_shape=(win.pixels, win.pixels), transform=transform(win), fill=0, dtype=dtype)


@lru_cache(maxsize=2)
def landcover(win: L.Window) -> tuple[np.ndarray, np.ndarray]:
    """(land-cover codes uint8, parcel index int32: 0 = none, i + 1 = parcels(win)[i])."""
    x, y = _world_axes(win)
    hills = x[None, :] > L.hills_boundary_x(y)[:, None]
    wood = _noise(win, 450.0, S2_SEED + 1, octaves=4)
    rock = _noise(win, 120.0, S2_SEED + 2, octaves=2)
    lc = np.full((win.pixels, win.pixels), GRASSLAND, np.uint8)
    lc[hills & (wood > -0.06)] = FOREST
    lc[~hills & (wood > 0.3)] = FOREST  # small woods in the plain
    lc[hills & (rock > 0.22) & (wood < 0.05)] = BARE
    parcels = L.parcels(win)
    pidx = rasterize_window(win, [(p.geometry, i + 1) for i, p in enumerate(parcels)], dtype="int32")
    lc[pidx > 0] = CROPLAND
    feats = L.water_and_town()
    lc[rasterize_window(win, [(feats["town"], 1), (feats["road"], 1)]) > 0] = URBAN
    lc[rasterize_window(win, [(feats["river"], 1), (feats["lake"], 1)]) > 0] = WATER
    pidx[lc != CROPLAND] = 0
    return lc, pidx


@lru_cache(maxsize=2)
def fire_masks(win: L.Window) -> tuple[np.ndarray, ...]:
    """Burned pixels per fire: burnable land cover with its centre inside the perimeter."""
    lc, _ = landcover(win)
    burnable = np.isin(lc, BURNABLE)
    return tuple((rasterize_window(win, [(f.geometry, 1)]) > 0) & burnable for f in L.fires())


@lru_cache(maxsize=2)
def static_layers(win: L.Window) -> dict[str, np.ndarray]:
    """Date-independent layers (textures, deciduous share, fire severity); also warms the caches."""
    lc, _ = landcover(win)
    fire_masks(win)
    return {
        "tone": _noise(win, 240.0, S2_SEED + 3, octaves=2),  # smooth: sharp texture bloats the COGs
        "soil_tone": 1.0 + 0.10 * _noise(win, 400.0, S2_SEED + 4),
        "deciduous": np.clip(_noise(win, 600.0, S2_SEED + 7) * 2.0 + 0.3, 0.0, 1.0),
        "severity": np.clip(0.93 + 0.25 * _noise(win, 300.0, S2_SEED + 8, octaves=2), 0.8, 1.0),
        "soil_brightness": np.array([1.0] + [phenology.soil_brightness(p.key) for p in L.parcels(win)], np.float32),
        "urban": lc == URBAN, "water": lc == WATER, "forest": lc == FOREST, "grassland": lc == GRASSLAND,
        "cropland": lc == CROPLAND, "bare": lc == BARE, "land": ~np.isin(lc, (URBAN, WATER)),
        "urban_tone": 1.0 + 0.10 * _noise(win, 60.0, S2_SEED + 5),
        "water_tone": 1.0 + 0.08 * _noise(win, 60.0, S2_SEED + 6),
    }


def parcel_cover(win: L.Window, d: date) -> tuple[np.ndarray, np.ndarray]:
    """(green, dry) per parcel index (index 0 = no parcel) on day d."""
    rows = [(0.0, 0.0)] + [phenology.cover(p.crop_type, p.key, d) for p in L.parcels(win)]
    arr = np.array(rows, np.float32)
    return arr[:, 0], arr[:, 1]


def _season(doy: int, peak: float, width: float) -> float:
    return float(np.exp(-(((doy - peak) / width) ** 2)))


def surface_weights(win: L.Window, d: date) -> np.ndarray:
    """End-member weights (spectra.ENDMEMBERS order) x rows x cols of the land on day d."""
    lc, pidx = landcover(win)
    st = static_layers(win)
    doy = d.timetuple().tm_yday
    tone = st["tone"]
    w = np.zeros((len(SP.ENDMEMBERS), win.pixels, win.pixels), np.float32)
    green, forest, dry = w[0], w[1], w[2]

    leaf_off = 1.0 - _season(doy, 200, 95)  # 0 in summer, ~1 in January
    m = st["forest"]
    canopy = (0.88 + 0.04 * tone[m]) * (1.0 - 0.45 * st["deciduous"][m] * leaf_off)
    forest[m] = canopy
    dry[m] = 1.0 - canopy

    g = 0.36 + 0.18 * _season(doy, 110, 55) + 0.08 * _season(doy, 300, 35)  # evergreen shrubs + grass
    m = st["grassland"]
    green[m] = g + 0.06 * tone[m]
    dry[m] = 0.12 + 0.25 * _season(doy, 215, 45)

    m = st["cropland"]
    pg, pd = parcel_cover(win, d)
    green[m] = np.clip(pg[pidx[m]] + 0.03 * tone[m], 0.0, 1.0)
    dry[m] = pd[pidx[m]]

    m = st["bare"]
    green[m], dry[m] = 0.03, 0.10
    land = st["land"]
    np.clip(w[:3], 0.0, 1.0, out=w[:3])
    w[3] = np.maximum(1.0 - w[0] - w[1] - w[2], 0.0) * land  # the rest is soil
    m = st["cropland"]
    w[3][m] *= st["soil_brightness"][pidx[m]]
    w[5] = st["urban_tone"] * st["urban"]
    w[6] = st["water_tone"] * st["water"]
    for fire, burned in zip(L.fires(), fire_masks(win)):
        if fire.date < d:
            _burn(w, burned, st["severity"], (d - fire.date).days / 365.25)
    return w


def _burn(w: np.ndarray, burned: np.ndarray, severity: np.ndarray, years: float) -> None:
    """Char where the fire burned: it fades in about a year while vegetation regrows over years."""
    sev = severity[burned]
    survive = (1.0 - sev) + sev * (1.0 - np.exp(-years / 2.5))
    char = sev * np.exp(-years / 0.7)
    cover = w[:, burned] * survive
    cover[4] = char
    cover[3] += np.maximum(1.0 - cover.sum(axis=0), 0.0)  # ash and bare soil
    w[:, burned] = cover


def _pool(a: np.ndarray, how: str) -> np.ndarray:
    """2 x 2 block mean or max of the last two axes (10 m -> 20 m)."""
    q = (a[..., ::2, ::2], a[..., 1::2, ::2], a[..., ::2, 1::2], a[..., 1::2, 1::2])
    if how == "max":
        return np.maximum(np.maximum(q[0], q[1]), np.maximum(q[2], q[3]))
    out = q[0] + q[1]
    out += q[2]
    out += q[3]
    out *= np.float32(0.25)
    return out


@lru_cache(maxsize=4)
def _linear_matrix(n: int, factor: int) -> sp.csr_matrix:
    """Sparse (n * factor, n) linear interpolation between pixel centres (edges clamped)."""
    pos = np.clip((np.arange(n * factor) + 0.5) / factor - 0.5, 0.0, n - 1.0)
    i0 = np.minimum(np.floor(pos).astype(int), n - 2)
    t = (pos - i0).astype(np.float32)
    rows = np.repeat(np.arange(pos.size), 2)
    cols = np.column_stack([i0, i0 + 1]).ravel()
    return sp.csr_matrix((np.column_stack([1 - t, t]).ravel(), (rows, cols)), shape=(pos.size, n))


def _upsample(a: np.ndarray, factor: int) -> np.ndarray:
    """Bilinear upsampling, separable: two sparse matrix products."""
    r = _linear_matrix(a.shape[0], factor)
    return np.asarray(r @ np.ascontiguousarray((r @ a.T).T), dtype=np.float32)


def atmosphere(win: L.Window, scene: Scene) -> dict[str, np.ndarray]:
    """10 m cloud opacity, cirrus opacity and cloud-shadow mask of a scene (fields from a 40 m grid)."""
    n40 = win.pixels // 4
    out = {"cloud": np.zeros((win.pixels,) * 2, np.float32), "cirrus": np.zeros((win.pixels,) * 2, np.float32)}
    if scene.cloud > 0:
        field = _noise(win, 2_400.0, 10_000_000 + scene.seed, octaves=4, res=40.0)
        thr = np.quantile(field, 1.0 - scene.cloud)
        alpha = np.clip((field - thr) / (0.3 * field.std()) + 0.3, 0.0, 1.0)
        alpha[field < thr] = 0.0
        out["cloud"] = np.clip(_upsample(alpha, 4), 0.0, 1.0)
        out["cloud"][out["cloud"] < 0.02] = 0.0
    if scene.cirrus > 0:
        field = _noise(win, 6_000.0, 30_000_000 + scene.seed, octaves=2, res=40.0)
        thr = np.quantile(field, 1.0 - scene.cirrus)
        out["cirrus"] = np.clip(_upsample(np.clip((field - thr) / field.std() * 0.3, 0.0, 0.25), 4), 0.0, 0.25)
        out["cirrus"][out["cirrus"] < 0.01] = 0.0
    cloudy = out["cloud"] > 0
    # the sun is in the south-east at 10:37: shadows fall north-west, longer in winter
    k = 1.0 + 1.5 * (1.0 - _season(scene.date.timetuple().tm_yday, 172, 120))
    dy, dx = int(round(45 * k)), int(round(-60 * k))  # rows, cols (10 m)
    out["shadow"] = ndimage.shift(cloudy, (-dy, dx), order=0, cval=False) & ~cloudy if cloudy.any() else cloudy
    assert n40 * 4 == win.pixels
    return out


def nodata_strip(win: L.Window, scene: Scene, res: float) -> np.ndarray:
    """Pixels outside the swath: east of a slightly slanted orbit edge (width scene.swath_cut)."""
    n = int(round(win.side / res))
    if scene.swath_cut <= 0:
        return np.zeros((n, n), bool)
    cols = (np.arange(n) + 0.5) * res
    rows = (np.arange(n) + 0.5) * res
    edge = win.side * (1.0 - scene.swath_cut) + 0.12 * (rows - win.side / 2)
    return cols[None, :] > edge[:, None]


def swath_edge(win: L.Window, scene: Scene) -> tuple[float, float]:
    """AOI-relative x (m) of the swath edge at the top and at the bottom row."""
    a = win.side * (1.0 - scene.swath_cut)
    return a - 0.12 * win.side / 2, a + 0.12 * win.side / 2


def _reflectance(bands: tuple[str, ...], w: np.ndarray) -> np.ndarray:
    """Surface reflectance (bands x rows x cols): one matrix product of spectra and weights."""
    e = SP.ENDMEMBERS[:, [SP.BANDS.index(b) for b in bands]].T
    return (e @ w.reshape(w.shape[0], -1)).reshape(len(bands), *w.shape[1:])


def _observe(refl: np.ndarray, bands: tuple[str, ...], atm: dict[str, np.ndarray]) -> np.ndarray:
    """Cloud shadow, then cirrus and cloud on top of the surface reflectance (in place)."""
    idx = [SP.BANDS.index(b) for b in bands]
    if atm["shadow"].any():
        refl *= 1.0 - 0.62 * atm["shadow"]
    for key, spec in (("cirrus", SP.CIRRUS), ("cloud", SP.CLOUD)):
        alpha = atm[key]
        if alpha.any():
            refl += alpha * (spec[idx, None, None] - refl)
    return refl


def scene_arrays(win: L.Window, scene: Scene) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """({band: uint16 DN at its resolution}, SCL uint8 at 20 m) of one scene."""
    w10 = surface_weights(win, scene.date)
    atm10 = atmosphere(win, scene)
    w20 = _pool(w10, "mean")
    atm20 = {"cloud": _pool(atm10["cloud"], "mean"), "cirrus": _pool(atm10["cirrus"], "mean"),
             "shadow": _pool(atm10["shadow"].astype(np.float32), "mean")}
    bands = {}
    for names, w, atm, res in ((SP.BANDS_10M, w10, atm10, 10.0), (SP.BANDS_20M, w20, atm20, 20.0)):
        dn = SP.to_dn(_observe(_reflectance(names, w), names, atm))
        dn[:, nodata_strip(win, scene, res)] = 0
        bands.update(zip(names, dn))
    red, nir = _reflectance(("B04", "B8A"), w20)
    water = _pool(static_layers(win)["water"].astype(np.float32), "mean") > 0.5
    scl = np.where(water, 6, np.where(nir - red > 0.4 * (nir + red), 4, 5)).astype(np.uint8)
    scl[_pool(atm10["shadow"], "max")] = 3
    scl[_pool(atm10["cirrus"], "max") > 0] = 10
    cloud_max = _pool(atm10["cloud"], "max")
    scl[cloud_max > 0] = 8
    scl[cloud_max > 0.65] = 9
    scl[nodata_strip(win, scene, 20.0)] = 0
    return {b: bands[b] for b in SP.BANDS}, scl


def cloud_cover(scl: np.ndarray) -> float:
    """eo:cloud_cover: % of the valid pixels flagged cloud (medium or high probability) or thin cirrus."""
    valid = int((scl != 0).sum())
    return 100.0 * float(np.isin(scl, SCL_CLOUDY).sum()) / max(valid, 1)
