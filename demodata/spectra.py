"""Sentinel-2 MSI bands and the end-member spectra the demo surfaces are mixed from.

Reflectances are typical library values (green canopy with its red edge, a darker forest canopy,
senescent vegetation / straw stubble, a Mediterranean soil, fresh char and ash, water, roofs and roads,
thick cloud, cirrus), so indices behave as on real L2A data: a green crop or forest has NDVI 0.8
and NBR 0.6; char drops NIR and raises SWIR (NBR below 0); stubble also drops NIR and raises SWIR,
but keeps a bright visible and red-edge signal (NBR near 0): harvest moves NBR like a fire, only
the season, the land cover and the visible/red-edge bands tell them apart.
"""

from __future__ import annotations

import numpy as np

# name: (common name (STAC eo 1.1), centre wavelength um, full width at half maximum um, resolution m)
BAND_INFO = {
    "B02": ("blue", 0.492, 0.066, 10), "B03": ("green", 0.560, 0.036, 10), "B04": ("red", 0.665, 0.031, 10),
    "B05": ("rededge", 0.704, 0.015, 20), "B06": ("rededge", 0.740, 0.015, 20), "B07": ("rededge", 0.783, 0.020, 20),
    "B08": ("nir", 0.833, 0.106, 10), "B8A": ("nir08", 0.865, 0.021, 20),
    "B11": ("swir16", 1.614, 0.091, 20), "B12": ("swir22", 2.202, 0.175, 20),
}
BANDS = tuple(BAND_INFO)
BANDS_10M = tuple(b for b, v in BAND_INFO.items() if v[3] == 10)
BANDS_20M = tuple(b for b, v in BAND_INFO.items() if v[3] == 20)
SCALE, OFFSET = 0.0001, -0.1  # L2A since processing baseline 04.00: reflectance = DN * 1e-4 - 0.1
ADD_OFFSET_DN = 1000  # BOA_ADD_OFFSET: DN = (reflectance + 0.1) * 10000

#                      B02    B03    B04    B05    B06    B07    B08    B8A    B11    B12
GREEN = np.array([0.030, 0.075, 0.035, 0.120, 0.330, 0.420, 0.450, 0.470, 0.230, 0.105], np.float32)
FOREST = np.array([0.022, 0.045, 0.024, 0.075, 0.210, 0.270, 0.300, 0.310, 0.140, 0.060], np.float32)
DRY = np.array([0.085, 0.125, 0.165, 0.205, 0.245, 0.270, 0.290, 0.300, 0.385, 0.290], np.float32)
SOIL = np.array([0.080, 0.115, 0.160, 0.195, 0.220, 0.240, 0.255, 0.265, 0.340, 0.300], np.float32)
CHAR = np.array([0.035, 0.042, 0.050, 0.062, 0.075, 0.085, 0.090, 0.095, 0.220, 0.250], np.float32)
WATER = np.array([0.060, 0.055, 0.035, 0.025, 0.016, 0.013, 0.012, 0.011, 0.006, 0.004], np.float32)
URBAN = np.array([0.110, 0.120, 0.130, 0.140, 0.160, 0.170, 0.180, 0.185, 0.220, 0.200], np.float32)
CLOUD = np.array([0.560, 0.540, 0.530, 0.530, 0.525, 0.525, 0.530, 0.530, 0.400, 0.280], np.float32)
CIRRUS = np.array([0.200, 0.190, 0.180, 0.175, 0.170, 0.170, 0.165, 0.165, 0.120, 0.080], np.float32)

# the mixed surfaces, in the order of the weight maps of sentinel2.surface_weights
ENDMEMBERS = np.stack([GREEN, FOREST, DRY, SOIL, CHAR, URBAN, WATER])


def to_dn(reflectance: np.ndarray) -> np.ndarray:
    """Reflectance -> L2A digital numbers (uint16, 0 reserved for no-data)."""
    dn = np.rint((reflectance - OFFSET) / SCALE)
    return np.clip(dn, 1, 65535).astype(np.uint16)


def to_reflectance(dn: np.ndarray) -> np.ndarray:
    """L2A digital numbers -> reflectance (float32; what a reader applying raster:bands gets)."""
    return dn.astype(np.float32) * np.float32(SCALE) + np.float32(OFFSET)
