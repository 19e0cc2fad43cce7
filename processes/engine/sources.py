"""Raster collections as the engine sees them: items (scenes) made of assets (files) of named bands.

A single-file DEM is a collection of one item with one asset; a Sentinel-2 time series is many
items, each with a reflectance and a scene-classification asset. Reading a collection as one
raster mosaics its items (newest on top); reading it as a series gives one raster per item.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rasterio.warp import transform_bounds

from ..ops import Raster, Series
from .grid import Grid
from .reader import Resampling, dataset_info, read


@dataclass(frozen=True)
class Asset:
    href: str
    bands: tuple[str, ...]
    resampling: Resampling = "bilinear"


@dataclass(frozen=True)
class Item:
    id: str
    assets: tuple[Asset, ...]
    datetime: str | None = None

    @property
    def band_names(self) -> tuple[str, ...]:
        return tuple(b for a in self.assets for b in a.bands)

    def intersects(self, grid: Grid) -> bool:
        info = dataset_info(self.assets[0].href)
        w, s, e, n = transform_bounds(grid.crs, info.crs, *grid.bounds, densify_pts=21)
        x0, y0, x1, y1 = info.bounds
        return not (e <= x0 or w >= x1 or n <= y0 or s >= y1)

    def read(self, grid: Grid, bands: tuple[str, ...] | None = None) -> Raster:
        wanted = bands or self.band_names
        arrays: dict[str, np.ndarray] = {}
        valid = np.ones((grid.height, grid.width), bool)
        for asset in self.assets:
            picked = [b for b in asset.bands if b in wanted]
            if not picked:
                continue
            idx = tuple(asset.bands.index(b) + 1 for b in picked)
            data, ok = read(asset.href, grid, idx, asset.resampling)
            arrays.update(zip(picked, data))
            valid &= ok
        data = np.stack([arrays[b] for b in wanted]) if wanted else np.zeros((0, grid.height, grid.width), np.float32)
        cx, cy = grid.cell_sizes()
        return Raster(data, valid, tuple(wanted), cx, cy, self.datetime)


@dataclass(frozen=True)
class Collection:
    """What the engine may read: an id, its items and the band names they share."""

    id: str
    items: tuple[Item, ...]
    version: str = ""  # changes when the data changes (cache keys, ETags)

    @property
    def band_names(self) -> tuple[str, ...]:
        return self.items[0].band_names

    @property
    def is_series(self) -> bool:
        return len(self.items) > 1

    def select(self, datetime: str | None) -> tuple[Item, ...]:
        """Items within an ISO 8601 instant or interval 'start/end' ('..' open), oldest first."""
        items = sorted(self.items, key=lambda i: i.datetime or "")
        if not datetime:
            return tuple(items)
        start, _, end = datetime.partition("/")
        if not _:
            return tuple(i for i in items if (i.datetime or "").startswith(start))
        lo = "" if start in ("", "..") else start
        hi = "\uffff" if end in ("", "..") else end
        return tuple(i for i in items if lo <= (i.datetime or "") and (i.datetime or "")[: len(hi)] <= hi)

    def read_series(self, grid: Grid, bands: tuple[str, ...] | None, datetime: str | None) -> Series:
        return tuple(i.read(grid, bands) for i in self.select(datetime) if i.intersects(grid))

    def read(self, grid: Grid, bands: tuple[str, ...] | None = None, datetime: str | None = None) -> Raster:
        items = self.select(datetime)
        if len(items) == 1:
            return items[0].read(grid, bands)
        out: Raster | None = None
        for item in reversed(items):  # newest first, fill gaps from older scenes
            if not item.intersects(grid):
                continue
            r = item.read(grid, bands)
            if out is None:
                out = r
            else:
                fill = ~out.mask & r.mask
                out.data[:, fill] = r.data[:, fill]
                out.mask[fill] = True
            if out.mask.all():
                break
        if out is None:
            cx, cy = grid.cell_sizes()
            names = bands or self.band_names
            return Raster(np.zeros((len(names), grid.height, grid.width), np.float32),
                          np.zeros((grid.height, grid.width), bool), tuple(names), cx, cy)
        return out
