"""Sentinel-2-like L2A scenes over the demo AOI (pure array generators + STAC dicts).

Reflectance is a linear mix of end-member spectra. For vegetated land covers
the mixing fraction is solved from a target NDVI (forest steady, garrigue
green in spring, each crop parcel on its own seasonal curve), so an NDVI time
series per parcel recovers the phenology. Fires replace the spectrum with a
char signature (low B08, high B12: NBR drops) for every scene after their
date, with slow regrowth. Clouds and shadows differ per date and are flagged
in SCL like the real product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
from rasterio.features import rasterize
from rasterio.transform import Affine
from scipy import ndimage
from shapely.geometry import Polygon

from . import landscape as L
from .noise import fbm, lattice_noise

BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
BAND_INFO = {  # common name, centre wavelength (um), FWHM (um)
    "B02": ("blue", 0.490, 0.098), "B03": ("green", 0.560, 0.045), "B04": ("red", 0.665, 0.038),
    "B08": ("nir", 0.842, 0.145), "B11": ("swir16", 1.610, 0.143), "B12": ("swir22", 2.190, 0.242),
}
TRANSFORM = Affine(L.PIXEL, 0.0, L.AOI_X0, 0.0, -L.PIXEL, L.AOI_Y1)
S2_SEED = 2022

# land-cover codes of landcover.tif
FOREST, GRASSLAND, CROPLAND, BARE, WATER, URBAN = 1, 2, 3, 4, 5, 6
LANDCOVER_CLASSES = {FOREST: "forest", GRASSLAND: "grassland", CROPLAND: "cropland",
                     BARE: "bare_soil", WATER: "water", URBAN: "urban"}
# Sentinel-2 L2A scene classification codes used here
SCL_CLASSES = {0: "no_data", 3: "cloud_shadows", 4: "vegetation", 5: "not_vegetated",
               6: "water", 8: "cloud_medium_probability", 9: "cloud_high_probability"}

# end-member spectra, reflectance x 10000, band order = BANDS
VEG = np.array([250, 550, 280, 4200, 1900, 850], np.float32)
SOIL = np.array([1000, 1350, 1650, 2400, 3200, 2700], np.float32)
WATER_SPEC = np.array([650, 560, 320, 160, 90, 60], np.float32)
URBAN_SPEC = np.array([1250, 1320, 1420, 1850, 2300, 2050], np.float32)
BURNED = np.array([330, 480, 700, 800, 2000, 2300], np.float32)  # char: NDVI 0.07, NBR -0.48
CLOUD = np.array([7200, 7000, 6900, 7100, 4600, 3300], np.float32)

# crop phenology: NDVI = lo + (hi - lo) * exp(-((doy - peak) / width)^2)
PHENOLOGY = {  # peak day of year, width (days), lo, hi
    "winter_wheat": (120, 45, 0.20, 0.85), "rapeseed": (100, 40, 0.22, 0.82),
    "maize": (205, 32, 0.18, 0.88), "sunflower": (190, 28, 0.18, 0.80),
    "vineyard": (185, 55, 0.28, 0.58), "meadow": (130, 80, 0.45, 0.80),
}


@dataclass(frozen=True)
class Scene:
    date: date
    cloud_target: float  # fraction of the AOI under cloud
    footprint_cut: bool = False  # partial swath: a nodata strip on the east side

    @property
    def id(self) -> str:
        return f"S2_{self.date.isoformat()}"

    @property
    def datetime(self) -> str:
        return f"{self.date.isoformat()}T10:30:21Z"


SCENES = (
    Scene(date(2022, 3, 18), 0.12), Scene(date(2022, 5, 12), 0.30), Scene(date(2022, 7, 6), 0.03),
    Scene(date(2022, 8, 30), 0.10), Scene(date(2023, 3, 23), 0.40), Scene(date(2023, 5, 17), 0.12, True),
    Scene(date(2023, 7, 21), 0.05), Scene(date(2023, 10, 4), 0.08),
)


def pixel_grid() -> tuple[np.ndarray, np.ndarray]:
    """AOI-relative x (columns) and y (rows) of pixel centres, metres."""
    c = (np.arange(L.SIZE) + 0.5) * L.PIXEL
    return c, L.SIZE * L.PIXEL - c


def _noise(cell_px: float, seed: int, octaves: int = 1) -> np.ndarray:
    u = np.arange(L.SIZE) / cell_px
    return fbm(u, u, seed, octaves) if octaves > 1 else lattice_noise(u, u, seed)


def rasterize_utm(shapes: list, fill: int = 0, dtype: str = "uint8") -> np.ndarray:
    return rasterize(shapes, out_shape=(L.SIZE, L.SIZE), transform=TRANSFORM, fill=fill, dtype=dtype)


@lru_cache(maxsize=1)
def landcover() -> tuple[np.ndarray, np.ndarray]:
    """(land-cover codes uint8, parcel index int16: 0 = none, i + 1 = parcels()[i])."""
    x, y = pixel_grid()
    hills = x[None, :] > L.hills_boundary_x(y)[:, None]
    wood = _noise(45.0, S2_SEED + 1, octaves=4)
    rock = _noise(12.0, S2_SEED + 2, octaves=2)
    lc = np.full((L.SIZE, L.SIZE), GRASSLAND, np.uint8)
    lc[hills & (wood > -0.06)] = FOREST
    lc[~hills & (wood > 0.3)] = FOREST  # small woods in the plain
    lc[hills & (rock > 0.22) & (wood < 0.05)] = BARE
    parcels = L.parcels()
    pidx = rasterize_utm([(p.geometry, i + 1) for i, p in enumerate(parcels)], dtype="int16")
    lc[pidx > 0] = CROPLAND
    feats = L.water_and_town()
    lc[rasterize_utm([(feats["town"], 1), (feats["road"], 1)]) > 0] = URBAN
    lc[rasterize_utm([(feats["river"], 1), (feats["lake"], 1)]) > 0] = WATER
    pidx[lc != CROPLAND] = 0
    return lc, pidx


@lru_cache(maxsize=1)
def fire_masks() -> tuple[np.ndarray, ...]:
    """Burned pixels per fire (burnable land covers inside the perimeter)."""
    lc, _ = landcover()
    burnable = np.isin(lc, (FOREST, GRASSLAND, CROPLAND, BARE))
    return tuple((rasterize_utm([(f.geometry, 1)]) > 0) & burnable for f in L.fires())


def parcel_ndvi(d: date) -> np.ndarray:
    """Target NDVI per parcel (index 0 = no parcel) on date d, with per-parcel jitter."""
    doy = d.timetuple().tm_yday
    out = [0.0]
    for i, p in enumerate(L.parcels()):
        rng = np.random.default_rng([S2_SEED, i, d.year])  # same jitter for a parcel within a year
        peak, width, lo, hi = PHENOLOGY[p.crop_type]
        peak += rng.uniform(-10, 10)
        hi += rng.uniform(-0.04, 0.03)
        out.append(lo + (hi - lo) * math.exp(-(((doy - peak) / width) ** 2)))
    return np.array(out, np.float32)


def fraction_for_ndvi(ndvi: np.ndarray) -> np.ndarray:
    """Vegetation fraction f so that the mix f*VEG + (1-f)*SOIL has exactly this NDVI."""
    (rs, ns), (rv, nv) = SOIL[[2, 3]], VEG[[2, 3]]
    a_s = ns - rs - ndvi * (ns + rs)
    a_v = nv - rv - ndvi * (nv + rv)
    return np.clip(a_s / (a_s - a_v), 0.0, 1.0)


def target_ndvi(d: date) -> np.ndarray:
    """Per-pixel NDVI of the vegetated land covers on date d."""
    lc, pidx = landcover()
    doy = d.timetuple().tm_yday
    tex = static_layers()["ndvi_tone"]
    garrigue = 0.30 + 0.30 * math.exp(-(((doy - 110) / 60) ** 2)) + 0.10 * math.exp(-(((doy - 300) / 40) ** 2))
    forest = 0.78 + 0.04 * math.cos(2 * math.pi * (doy - 170) / 365)
    ndvi = np.select(
        [lc == FOREST, lc == GRASSLAND, lc == CROPLAND, lc == BARE],
        [forest + 0.05 * tex, garrigue + 0.06 * tex, parcel_ndvi(d)[pidx] + 0.02 * tex, 0.12 + 0.03 * tex],
        0.1,
    )
    return ndvi.astype(np.float32)


def cloud_alpha(scene: Scene) -> np.ndarray:
    """Cloud opacity in [0, 1]: blobs covering about ``scene.cloud_target`` of the AOI (0 below 0.25)."""
    cover = scene.cloud_target
    if cover <= 0:
        return np.zeros((L.SIZE, L.SIZE), np.float32)
    field = _noise(160.0, 10_000_000 + scene.date.toordinal(), octaves=5)  # new clouds every date
    thr = np.quantile(field[::8, ::8], 1.0 - cover)
    alpha = np.clip((field - thr) / (0.25 * field.std()) + 0.25, 0.0, 1.0)
    alpha[alpha < 0.25] = 0.0
    return alpha.astype(np.float32)


@lru_cache(maxsize=1)
def static_layers() -> dict[str, np.ndarray]:
    """Date-independent layers (land-cover masks, soil/urban/water texture); also warms the caches."""
    lc, _ = landcover()
    fire_masks()
    return {
        "ndvi_tone": _noise(24.0, S2_SEED + 3, octaves=2),  # smooth: sharp texture bloats the COGs
        "soil_tone": 1.0 + 0.08 * _noise(40.0, S2_SEED + 4),
        "urban": lc == URBAN, "water": lc == WATER,
        "urban_tone": 1.0 + 0.10 * _noise(6.0, S2_SEED + 5), "water_tone": 1.0 + 0.08 * _noise(6.0, S2_SEED + 6),
    }


def scene_arrays(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """(reflectance uint16 (6, H, W), SCL uint8 (H, W)) of one scene. Band by band to limit memory."""
    lc, _ = landcover()
    st = static_layers()
    f = fraction_for_ndvi(target_ndvi(scene.date))
    soil_part = st["soil_tone"] * (1.0 - f)
    burns = []
    for fire, mask in zip(L.fires(), fire_masks()):
        if fire.date < scene.date:
            years = (scene.date - fire.date).days / 365.25
            burns.append((mask, min(0.12 * years, 0.3)))  # slow regrowth
    alpha = cloud_alpha(scene)
    cloudy = alpha > 0
    shadow = ndimage.shift(cloudy, (30, -22), order=0, cval=False) & ~cloudy
    cloud_tone = 1.0 + 0.05 * _noise(60.0, 20_000_000 + scene.date.toordinal())

    out = np.empty((len(BANDS), L.SIZE, L.SIZE), np.uint16)
    clear = {}
    for b in range(len(BANDS)):
        band = SOIL[b] * soil_part + VEG[b] * f
        band[st["urban"]] = (URBAN_SPEC[b] * st["urban_tone"])[st["urban"]]
        band[st["water"]] = (WATER_SPEC[b] * st["water_tone"])[st["water"]]
        for mask, regrowth in burns:
            band[mask] = regrowth * band[mask] + (1.0 - regrowth) * BURNED[b]
        if b in (2, 3):
            clear[b] = band.copy()
        band[shadow] *= 0.35
        band += alpha * (CLOUD[b] * cloud_tone - band)
        out[b] = np.clip(np.rint(band), 1, 20000)

    red, nir = clear[2], clear[3]  # vegetation = NDVI > 0.4 on the cloud-free surface
    scl = np.where(lc == WATER, 6, np.where((nir - red) > 0.4 * (nir + red), 4, 5)).astype(np.uint8)
    scl[shadow] = 3
    scl[cloudy] = 8
    scl[alpha > 0.7] = 9
    if scene.footprint_cut:
        strip = footprint_strip()
        out[:, strip] = 0
        scl[strip] = 0
    return out, scl


_SWATH_EDGE = (1640.0, 0.12)  # partial-footprint scene: nodata east of col = a + b * row


def footprint_strip() -> np.ndarray:
    """Pixels outside the partial swath: east of a slightly slanted orbit edge."""
    rows, cols = np.indices((L.SIZE, L.SIZE))
    return cols > _SWATH_EDGE[0] + _SWATH_EDGE[1] * rows


def footprint_utm(scene: Scene) -> Polygon:
    """Valid-data footprint of a scene in UTM (the full AOI unless the swath is cut)."""
    if not scene.footprint_cut:
        return L.aoi_polygon()
    a, b = _SWATH_EDGE
    x_top, x_bottom = (L.AOI_X0 + L.PIXEL * (a + b * r) for r in (0, L.SIZE))
    return Polygon([(L.AOI_X0, L.AOI_Y0), (x_bottom, L.AOI_Y0), (x_top, L.AOI_Y1), (L.AOI_X0, L.AOI_Y1)])
