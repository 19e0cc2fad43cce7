"""Pixel coverage of polygons: for every cell of a grid, the fraction of its area inside a polygon.

`exact` gives exactextract's semantics (the exact area fraction of each cell covered, boundary
cells fractional) by signed-area accumulation, the exact form of a font rasterizer's coverage:
every polygon edge, split where it crosses grid lines, adds to each cell it passes the signed area
between itself and the cell's right side, `dy * (1 - x_mid)`, and the rest of its row `dy`; a
running sum along each row then is the covered fraction of every cell (shells and holes with
opposite orientations cancel). It is pure numpy, independent of exactextract (the tests compare
the two), and costs O(edge crossings + bounding-box cells) per feature.

`centers` counts a cell fully when its centre is inside the polygon (GDAL's default rasterization).

Points count the one cell that contains them. Coverage is computed in pixel coordinates of a
window, after clipping to it, so a feature split over chunks gets exactly the cells it has in one
piece.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import shapely
from affine import Affine
from scipy import sparse

Rule = Literal["exact", "centers"]
EPS = 1e-12  # coverage below this is float noise of cancelling edges


def to_pixels(geom, transform: Affine):
    """A geometry in the grid's CRS -> the same in continuous pixel coordinates (col, row)."""
    i = ~transform
    return shapely.transform(geom, lambda xy: np.column_stack([i.a * xy[:, 0] + i.b * xy[:, 1] + i.c,
                                                               i.d * xy[:, 0] + i.e * xy[:, 1] + i.f]))


def _pieces(p0: np.ndarray, p1: np.ndarray) -> tuple[np.ndarray, ...]:
    """Split segments p0->p1 (m x 2) where they cross integer x or y: (xa, ya, xb, yb, segment) of the pieces."""
    ts = [np.zeros(len(p0)), np.ones(len(p0))]
    segs = [np.arange(len(p0)), np.arange(len(p0))]
    for axis in (0, 1):
        a, b = p0[:, axis], p1[:, axis]
        d = b - a
        lo, hi = np.ceil(np.minimum(a, b)), np.floor(np.maximum(a, b))
        n = np.where(d != 0, np.maximum(hi - lo + 1, 0), 0).astype(np.int64)
        if n.sum() == 0:
            continue
        seg = np.repeat(np.arange(len(p0)), n)
        k = lo[seg] + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
        ts.append(np.clip((k - a[seg]) / d[seg], 0.0, 1.0))
        segs.append(seg)
    t, seg = np.concatenate(ts), np.concatenate(segs)
    order = np.lexsort((t, seg))
    t, seg = t[order], seg[order]
    same = seg[:-1] == seg[1:]
    s, ta, tb = seg[:-1][same], t[:-1][same], t[1:][same]
    d = p1[s] - p0[s]
    return p0[s, 0] + ta * d[:, 0], p0[s, 1] + ta * d[:, 1], p0[s, 0] + tb * d[:, 0], p0[s, 1] + tb * d[:, 1], s


def exact_weights(geoms_px: np.ndarray, width: int, height: int, off: tuple[int, int]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(feature, cell, coverage) of many polygons at once (pixel coordinates of the reference
    grid; the window of width x height starts at `off`). Each feature accumulates in its own
    bounding box, relative to its own corner, so its numbers do not depend on the window or on
    the other features; boxes of equal width are stacked so one cumsum serves them all."""
    ox, oy = off
    clipped = shapely.orient_polygons(shapely.clip_by_rect(geoms_px, ox, oy, ox + width, oy + height))
    parts, part_feat = shapely.get_parts(clipped, return_index=True)
    poly = shapely.get_type_id(parts) == 3
    parts, part_feat = parts[poly], part_feat[poly]
    if not len(parts):
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    b = np.nan_to_num(shapely.bounds(clipped), nan=0.0)  # empty after clipping: a 1-cell box, no edges
    c0, r0 = np.floor(b[:, 0]), np.floor(b[:, 1])
    fw = np.maximum(np.ceil(b[:, 2]) - c0, 1).astype(np.int64)
    fh = np.maximum(np.ceil(b[:, 3]) - r0, 1).astype(np.int64)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[:-1] == ring[1:]
    seg_feat = part_feat[ring_part[ring[:-1][same]]]
    corner = np.column_stack([c0, r0])[seg_feat]
    xa, ya, xb, yb, s = _pieces(xy[:-1][same] - corner, xy[1:][same] - corner)
    f = seg_feat[s]
    dy = yb - ya
    keep = dy != 0
    xa, ya, xb, yb, dy, f = xa[keep], ya[keep], xb[keep], yb[keep], dy[keep], f[keep]
    xm, ym = (xa + xb) / 2, (ya + yb) / 2
    col = np.clip(np.floor(xm).astype(np.int64), 0, fw[f])
    row = np.clip(np.floor(ym).astype(np.int64), 0, fh[f] - 1)
    frac = xm - col
    # features ordered by box width: the rows of equal-width boxes form one 2-D array
    order = np.lexsort((np.arange(len(fw)), fw))
    size = fh * (fw + 1)
    start = np.empty(len(fw), np.int64)
    start[order] = np.cumsum(size[order]) - size[order]
    base = start[f] + row * (fw[f] + 1)
    acc = np.bincount(base + col, dy * (1 - frac), minlength=int(size.sum()))
    acc += np.bincount(base + np.minimum(col + 1, fw[f]), dy * frac, minlength=int(size.sum()))
    feats, cells, covs = [], [], []
    sorted_w = fw[order]
    bounds = np.r_[0, np.nonzero(np.diff(sorted_w))[0] + 1, len(order)]
    for g0, g1 in zip(bounds[:-1], bounds[1:]):
        members = order[g0:g1]
        w = int(fw[members[0]])
        lo, hi = int(start[members[0]]), int(start[members[-1]] + size[members[-1]])
        cov = np.abs(np.cumsum(acc[lo:hi].reshape(-1, w + 1), axis=1)[:, :w])
        rr, cc = np.nonzero(cov > EPS)
        row_owner = np.repeat(members, fh[members])  # which feature each stacked row belongs to
        row_first = np.repeat(np.cumsum(fh[members]) - fh[members], fh[members])
        fi = row_owner[rr]
        local_r = rr - row_first[rr]
        feats.append(fi)
        cells.append((r0[fi].astype(np.int64) + local_r - oy) * width + (c0[fi].astype(np.int64) + cc - ox))
        covs.append(np.minimum(cov[rr, cc], 1.0))
    return np.concatenate(feats), np.concatenate(cells), np.concatenate(covs)


def centers_coverage(geom, height: int, width: int) -> np.ndarray:
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    return shapely.contains_xy(geom, cols, rows).astype(np.float64)


def feature_cells(geom_px, width: int, height: int, off: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """(flat cell indices in the window, coverage) of one point or (centre rule) polygon feature in
    pixel coordinates of a reference grid; the window starts at column/row `off` of it."""
    ox, oy = off
    if geom_px is None or geom_px.is_empty:
        return np.empty(0, np.int64), np.empty(0)
    if geom_px.geom_type in ("Point", "MultiPoint"):
        xy = shapely.get_coordinates(geom_px)
        c, r = np.floor(xy[:, 0]).astype(np.int64) - ox, np.floor(xy[:, 1]).astype(np.int64) - oy
        ok = (c >= 0) & (c < width) & (r >= 0) & (r < height)
        cells = np.unique(r[ok] * width + c[ok])
        return cells, np.ones(len(cells))
    clipped = shapely.clip_by_rect(geom_px, ox, oy, ox + width, oy + height)
    if clipped.is_empty:
        return np.empty(0, np.int64), np.empty(0)
    x0, y0, x1, y1 = clipped.bounds
    c0, r0 = int(np.floor(x0)), int(np.floor(y0))
    w, h = max(1, int(np.ceil(x1)) - c0), max(1, int(np.ceil(y1)) - r0)
    local = shapely.transform(clipped, lambda xy: xy - (c0, r0))
    cov = centers_coverage(local, h, w)
    rr, cc = np.nonzero(cov > EPS)
    return (rr + r0 - oy) * width + (cc + c0 - ox), cov[rr, cc]


def weights(geoms_px: list, width: int, height: int, rule: Rule = "exact", off: tuple[int, int] = (0, 0)
            ) -> sparse.csr_matrix:
    """Sparse (features x window cells) matrix of coverage fractions; computed once per chunk and
    reused for every date and statistic."""
    geoms = np.asarray(geoms_px, dtype=object) if geoms_px else np.empty(0, object)
    kinds = shapely.get_type_id(geoms) if len(geoms) else np.empty(0, int)
    polygons = np.isin(kinds, (3, 6))
    fs, cs, vs = [], [], []
    if rule == "exact" and polygons.any():
        idx = np.nonzero(polygons)[0]
        f, c, v = exact_weights(geoms[idx], width, height, off)
        fs, cs, vs = [idx[f]], [c], [v]
    for i in np.nonzero(~polygons | (rule != "exact"))[0]:
        c, v = feature_cells(geoms[i], width, height, off)
        fs.append(np.full(len(c), i))
        cs.append(c)
        vs.append(v)
    f = np.concatenate(fs) if fs else np.empty(0, np.int64)
    c = np.concatenate(cs) if cs else np.empty(0, np.int64)
    v = np.concatenate(vs) if vs else np.empty(0)
    m = sparse.csr_matrix((v, (f, c)), shape=(len(geoms), width * height))
    m.sort_indices()
    return m
