"""The output pixel grid of an evaluation (a tile or a region) and its ground cell sizes."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from affine import Affine
from pyproj import CRS

EARTH_RADIUS = 6371008.8  # mean radius, metres


@lru_cache(maxsize=64)
def crs_of(text: str) -> CRS:
    return CRS.from_user_input(text)


@dataclass(frozen=True)
class Grid:
    """A north-up grid: CRS (as text, hashable), affine transform of the top-left corner, size."""

    crs: str
    transform: Affine
    width: int
    height: int

    @classmethod
    def from_bounds(cls, crs: str, bounds: tuple[float, float, float, float], width: int, height: int) -> "Grid":
        w, s, e, n = bounds
        return cls(crs, Affine((e - w) / width, 0, w, 0, -(n - s) / height, n), width, height)

    @property
    def res(self) -> tuple[float, float]:
        return self.transform.a, -self.transform.e

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        t = self.transform
        return t.c, t.f + t.e * self.height, t.c + t.a * self.width, t.f

    def expand(self, margin: int) -> "Grid":
        """The same grid with `margin` extra pixels on every side (the halo)."""
        if margin == 0:
            return self
        t = self.transform
        return Grid(self.crs, Affine(t.a, 0, t.c - margin * t.a, 0, t.e, t.f - margin * t.e),
                    self.width + 2 * margin, self.height + 2 * margin)

    def window(self, col_off: int, row_off: int, width: int, height: int) -> "Grid":
        t = self.transform
        return Grid(self.crs, Affine(t.a, 0, t.c + col_off * t.a, 0, t.e, t.f + row_off * t.e), width, height)

    def origin(self) -> tuple[int, int]:
        """(row, col) of the top-left pixel on the global lattice of this cell size: equal pixels of
        overlapping windows (tiles, chunks, halos) of one resolution get equal indices."""
        t = self.transform
        return round(t.f / t.e), round(t.c / t.a)

    def xs(self) -> np.ndarray:
        """Pixel-centre x coordinates (cols,)."""
        return self.transform.c + (np.arange(self.width) + 0.5) * self.transform.a

    def ys(self) -> np.ndarray:
        """Pixel-centre y coordinates (rows,)."""
        return self.transform.f + (np.arange(self.height) + 0.5) * self.transform.e

    def cell_sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """Ground distance in metres between pixel centres, per row: (east-west, north-south).
        Cached (read-only arrays): every window of a chunked run asks again for the same rows."""
        rx, ry = self.res
        return _cell_sizes(self.crs, rx, ry, self.transform.f, self.transform.e, self.height)


@lru_cache(maxsize=512)
def _cell_sizes(crs_text: str, rx: float, ry: float, f: float, e: float, height: int) -> tuple[np.ndarray, np.ndarray]:
    crs = crs_of(crs_text)
    ys = f + (np.arange(height) + 0.5) * e
    if crs.is_geographic:
        lat = np.radians(np.clip(ys, -90, 90))
        deg = math.pi / 180 * EARTH_RADIUS
        cx = np.maximum(rx * deg * np.cos(lat), 1e-3)
        cy = np.full(height, ry * deg)
    elif crs.to_epsg() == 3857:
        # Mercator is conformal: the scale factor at latitude phi is 1/cos(phi) in both axes.
        k = np.cos(np.arctan(np.sinh(ys / 6378137.0)))
        cx, cy = rx * k, ry * k
    else:
        unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
        cx, cy = np.full(height, rx * unit), np.full(height, ry * unit)
    cx, cy = cx.astype(np.float64), cy.astype(np.float64)
    cx.flags.writeable = cy.flags.writeable = False
    return cx, cy
