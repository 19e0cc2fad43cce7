"""Read any grid out of a (Cloud Optimized) GeoTIFF: the engine's only raster I/O.

One plain windowed read of the overview level that fits the output resolution, then index
gathers. When source and output CRS are both lon/lat or Web Mercator the mapping is separable
(column depends on x only, row on y only) and exact; otherwise the source position of each output
pixel is transformed on a coarse grid and interpolated. The value of an output pixel depends only
on its own coordinates, so tiles evaluated apart are seamless by construction. Dataset handles are
kept open per thread (GDAL handles are not thread-safe) so GDAL's block cache is reused.
"""
from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.windows import Window

from .grid import Grid, crs_of

# GDAL settings for reading COGs, local or over HTTP range requests (an explicit environment wins):
# no directory listing on open (one extra request, slow on servers that list), merged ranges.
for _key, _value in {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
                     "GDAL_HTTP_MULTIPLEX": "YES", "VSI_CACHE": "TRUE", "GDAL_HTTP_TIMEOUT": "30"}.items():
    os.environ.setdefault(_key, _value)

Resampling = Literal["nearest", "bilinear"]
_SEPARABLE = {4326, 3857}
_COARSE_STEP = 16
_local = threading.local()


@dataclass(frozen=True)
class Level:
    """One resolution level of a dataset (0 = full resolution)."""

    index: int  # -1 for the full-resolution dataset, else GDAL's overview index
    width: int
    height: int
    transform: tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class DatasetInfo:
    crs: str
    count: int
    dtype: str
    nodata: float | None
    band_names: tuple[str, ...]
    levels: tuple[Level, ...]  # finest first
    per_dataset_mask: bool

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        lv = self.levels[0]
        a, _, c, _, e, f = lv.transform
        return c, f + e * lv.height, c + a * lv.width, f


def _open(href: str, level: int) -> rasterio.DatasetReader:
    cache: OrderedDict = getattr(_local, "handles", None) or OrderedDict()
    _local.handles = cache
    key = (href, level)
    ds = cache.get(key)
    if ds is None:
        ds = rasterio.open(href) if level < 0 else rasterio.open(href, overview_level=level)
        cache[key] = ds
        if len(cache) > 64:
            cache.popitem(last=False)[1].close()
    else:
        cache.move_to_end(key)
    return ds


@lru_cache(maxsize=256)
def dataset_info(href: str) -> DatasetInfo:
    """Metadata of a dataset and of each of its overview levels (read once per process)."""
    with rasterio.open(href) as ds:
        t = ds.transform
        if t.b != 0 or t.d != 0 or t.e >= 0:
            raise ValueError(f"{href}: only north-up rasters are supported")
        names = tuple(d or f"b{i + 1}" for i, d in enumerate(ds.descriptions))
        levels = [Level(-1, ds.width, ds.height, tuple(t)[:6])]
        for i, f in enumerate(ds.overviews(1)):
            w, h = math.ceil(ds.width / f), math.ceil(ds.height / f)
            levels.append(Level(i, w, h, (t.a * ds.width / w, 0.0, t.c, 0.0, t.e * ds.height / h, t.f)))
        flags = ds.mask_flag_enums[0]
        per_dataset = any(f.name == "per_dataset" for f in flags) and ds.nodata is None
        return DatasetInfo(ds.crs.to_string(), ds.count, ds.dtypes[0], ds.nodata, names, tuple(levels), per_dataset)


def choose_level(info: DatasetInfo, grid: Grid) -> Level:
    """The coarsest level whose pixels are not coarser than the output's (Earth Engine's rule)."""
    need = _needed_resolution(info, grid)
    best = info.levels[0]
    for lv in info.levels[1:]:
        if lv.transform[0] <= need * 1.0001:
            best = lv
    return best


def _needed_resolution(info: DatasetInfo, grid: Grid) -> float:
    """Output pixel size expressed in source x units, measured across the grid's middle row."""
    xs = grid.xs()
    y = float(grid.ys()[grid.height // 2])
    tr = _transformer(grid.crs, info.crs)
    sx, _ = tr.transform(np.array([xs[0], xs[-1]]), np.array([y, y]))
    if not np.all(np.isfinite(sx)) or grid.width < 2:
        return info.levels[0].transform[0]
    return abs(float(sx[1] - sx[0])) / (grid.width - 1)


@lru_cache(maxsize=64)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(crs_of(src), crs_of(dst), always_xy=True)


@lru_cache(maxsize=64)
def _lonlat_or_mercator(text: str) -> bool:
    """WGS84 lon/lat (EPSG:4326, OGC:CRS84) or Web Mercator: x depends on lon only, y on lat only."""
    c = crs_of(text)
    if c.to_epsg() in _SEPARABLE:
        return True
    return c.is_geographic and c.ellipsoid is not None and c.ellipsoid.name == "WGS 84" and len(c.axis_info) == 2


def _separable(a: str, b: str) -> bool:
    return a == b or (_lonlat_or_mercator(a) and _lonlat_or_mercator(b))


def source_pixels(crs: str, level: Level, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Continuous source pixel coordinates (u = column, v = row) of every output pixel centre, for
    a level of a dataset in `crs`. Separable case: u has shape (1, W) and v (H, 1); else both (H, W).
    """
    a, _, c, _, e, f = level.transform
    tr = _transformer(grid.crs, crs)
    xs, ys = grid.xs(), grid.ys()
    if _separable(grid.crs, crs):
        y_mid = np.full_like(xs, ys[len(ys) // 2])
        x_mid = np.full_like(ys, xs[len(xs) // 2])
        sx, _ = tr.transform(xs, y_mid)
        _, sy = tr.transform(x_mid, ys)
        return ((np.asarray(sx) - c) / a)[None, :], ((np.asarray(sy) - f) / e)[:, None]
    cols = _knots(grid.width, _COARSE_STEP)[0]
    rows = _knots(grid.height, _COARSE_STEP)[0]
    gx, gy = np.meshgrid(xs[cols], ys[rows])
    sx, sy = tr.transform(gx, gy)
    u_c, v_c = (np.asarray(sx) - c) / a, (np.asarray(sy) - f) / e
    return _interp2(u_c, rows, cols, grid), _interp2(v_c, rows, cols, grid)


@lru_cache(maxsize=64)
def _knots(n: int, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Knot indices every `step` pixels (and the last), and for every pixel the two knots
    around it and its weight towards the second: 1-D linear interpolation as two gathers."""
    knots = np.unique(np.r_[np.arange(0, n, step), n - 1])
    pos = np.arange(n)
    hi = np.clip(np.searchsorted(knots, pos, side="right"), 1, len(knots) - 1)
    lo = hi - 1
    span = np.maximum(knots[hi] - knots[lo], 1)
    return knots, lo, hi, ((pos - knots[lo]) / span)


def _interp2(coarse: np.ndarray, rows: np.ndarray, cols: np.ndarray, grid: Grid) -> np.ndarray:
    """Bilinear interpolation of a coarse grid of values to every output pixel (no BLAS: a
    multi-threaded BLAS call per tile costs more in thread wake-ups than the work itself)."""
    _, rlo, rhi, rw = _knots(grid.height, _COARSE_STEP)
    _, clo, chi, cw = _knots(grid.width, _COARSE_STEP)
    by_row = coarse[rlo] * (1 - rw)[:, None] + coarse[rhi] * rw[:, None]
    return by_row[:, clo] * (1 - cw) + by_row[:, chi] * cw


def read(href: str, grid: Grid, bands: tuple[int, ...] | None = None,
         resampling: Resampling = "bilinear") -> tuple[np.ndarray, np.ndarray]:
    """Values (bands, H, W) float32 and validity (H, W) of `href` on `grid`."""
    info = dataset_info(href)
    level = choose_level(info, grid)
    indexes = list(bands) if bands else list(range(1, info.count + 1))
    offset = _aligned(info, level, grid)
    if offset is not None:  # the grid is the level's own pixels: one plain window read
        return _read_aligned(href, info, level, indexes, grid, *offset)
    plan = _plan(info.crs, level, grid, resampling)
    if plan.win is None:
        return np.zeros((len(indexes), grid.height, grid.width), np.float32), np.zeros((grid.height, grid.width), bool)
    data, valid = _read_window(href, info, level, indexes, plan.win)
    return plan.gather(data, valid)


@dataclass(frozen=True, eq=False)
class _Plan:
    """Where each output pixel reads in a window of one level: the window, gather indices and
    weights. It depends only on the level's grid and the output grid, so every scene of a time
    series on the same grid (and every band) shares one plan. Gathers are flat `take`s."""

    win: Window | None
    inside: np.ndarray | None = None
    separable: bool = False
    index: tuple[np.ndarray, ...] = ()   # nearest: (rows, cols) or (flat,); bilinear: 4 corners
    weights: tuple[np.ndarray, ...] = ()  # bilinear: (1 - wu, wu, 1 - wv, wv)

    def gather(self, data: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.weights:
            if self.separable:
                jv, ju = self.index
                return np.ascontiguousarray(data[:, jv][:, :, ju]), valid[jv][:, ju] & self.inside
            (flat,) = self.index
            vals = np.take(data.reshape(data.shape[0], -1), flat, axis=1)
            return vals, np.take(valid.ravel(), flat) & self.inside
        cu, wu, cv, wv = self.weights
        vf = valid.astype(np.float32)
        if self.separable:
            ia, ib, ja, jb = self.index
            rows = data[:, ja] * cv[None, :, None] + data[:, jb] * wv[None, :, None]
            vals = rows[:, :, ia] * cu + rows[:, :, ib] * wu
            mrows = vf[ja] * cv[:, None] + vf[jb] * wv[:, None]
            m = mrows[:, ia] * cu + mrows[:, ib] * wu
        else:
            faa, fab, fba, fbb = self.index
            d = data.reshape(data.shape[0], -1)
            vals = ((np.take(d, faa, axis=1) * cu + np.take(d, fab, axis=1) * wu) * cv
                    + (np.take(d, fba, axis=1) * cu + np.take(d, fbb, axis=1) * wu) * wv)
            v = vf.ravel()
            m = ((np.take(v, faa) * cu + np.take(v, fab) * wu) * cv
                 + (np.take(v, fba) * cu + np.take(v, fbb) * wu) * wv)
        return vals.astype(np.float32, copy=False), (m > 0.999) & self.inside


@lru_cache(maxsize=32)
def _plan(crs: str, level: Level, grid: Grid, resampling: Resampling) -> _Plan:
    u, v = source_pixels(crs, level, grid)
    separable = u.shape[0] == 1 and v.shape[1] == 1
    if resampling == "nearest":
        iu, iv = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
        win = _window(level, int(iu.min()), int(iu.max()), int(iv.min()), int(iv.max()))
        if win is None:
            return _Plan(None)
        inside = (iu >= 0) & (iu < level.width) & (iv >= 0) & (iv < level.height)
        ju = np.clip(iu - win.col_off, 0, win.width - 1)
        jv = np.clip(iv - win.row_off, 0, win.height - 1)
        if separable:
            return _Plan(win, inside, True, (jv[:, 0], ju[0]))
        return _Plan(win, inside, False, ((jv * win.width + ju).astype(np.intp),))
    tu, tv = u - 0.5, v - 0.5
    i0, j0 = np.floor(tu).astype(np.int64), np.floor(tv).astype(np.int64)
    wu, wv = (tu - i0).astype(np.float32), (tv - j0).astype(np.float32)
    win = _window(level, int(i0.min()), int(i0.max()) + 1, int(j0.min()), int(j0.max()) + 1)
    if win is None:
        return _Plan(None)
    inside = (u >= 0) & (u < level.width) & (v >= 0) & (v < level.height)
    ia = np.clip(i0 - win.col_off, 0, win.width - 1)
    ib = np.clip(i0 + 1 - win.col_off, 0, win.width - 1)
    ja = np.clip(j0 - win.row_off, 0, win.height - 1)
    jb = np.clip(j0 + 1 - win.row_off, 0, win.height - 1)
    if separable:
        return _Plan(win, inside, True, (ia[0], ib[0], ja[:, 0], jb[:, 0]),
                     (1 - wu[0], wu[0], 1 - wv[:, 0], wv[:, 0]))
    w = win.width
    corners = tuple((r * w + c).astype(np.intp) for r, c in ((ja, ia), (ja, ib), (jb, ia), (jb, ib)))
    return _Plan(win, inside, False, corners, (1 - wu, wu, 1 - wv, wv))


def _aligned(info: DatasetInfo, level: Level, grid: Grid) -> tuple[int, int] | None:
    """(column, row) of the grid's first pixel in the level when the grid is a window of the
    level's own pixel grid (same CRS, cell size and pixel corners), else None."""
    a, b, c, d, e, f = level.transform
    t = grid.transform
    if grid.crs != info.crs or b or d or t.b or t.d or not (math.isclose(t.a, a, rel_tol=1e-9)
                                                            and math.isclose(t.e, e, rel_tol=1e-9)):
        return None
    col, row = (t.c - c) / a, (t.f - f) / e
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    return round(col), round(row)


def _read_aligned(href: str, info: DatasetInfo, level: Level, indexes: list[int], grid: Grid,
                  col: int, row: int) -> tuple[np.ndarray, np.ndarray]:
    data = np.zeros((len(indexes), grid.height, grid.width), np.float32)
    valid = np.zeros((grid.height, grid.width), bool)
    win = _window(level, col, col + grid.width - 1, row, row + grid.height - 1)
    if win is not None:
        d, ok = _read_window(href, info, level, indexes, win)
        r0, c0 = int(win.row_off) - row, int(win.col_off) - col
        data[:, r0:r0 + d.shape[1], c0:c0 + d.shape[2]] = d
        valid[r0:r0 + d.shape[1], c0:c0 + d.shape[2]] = ok
    return data, valid


def _window(level: Level, ilo: int, ihi: int, jlo: int, jhi: int) -> Window | None:
    c0, c1 = max(ilo, 0), min(ihi, level.width - 1)
    r0, r1 = max(jlo, 0), min(jhi, level.height - 1)
    if c1 < c0 or r1 < r0:
        return None
    return Window(c0, r0, c1 - c0 + 1, r1 - r0 + 1)


def _read_window(href: str, info: DatasetInfo, level: Level, indexes: list[int], win: Window) -> tuple[np.ndarray, np.ndarray]:
    ds = _open(href, level.index)
    data = ds.read(indexes, window=win, out_dtype=np.float32)
    if info.nodata is not None:
        valid = np.all(data != np.float32(info.nodata), axis=0)
        if np.issubdtype(np.dtype(info.dtype), np.floating):
            valid &= np.all(np.isfinite(data), axis=0)
    elif info.per_dataset_mask:
        valid = ds.read_masks(1, window=win) > 0
    else:
        valid = np.ones(data.shape[1:], bool)
    return data, valid
