"""Coverage-weighted statistics of one date for every feature of a chunk, as mergeable partials.

A chunk gives, per feature: the weight of its valid cells (`count`, exactextract's count), the
weighted sum and sum of squares, the min and max over covered valid cells and, when quantiles are
asked, the covered valid values with their weights. Partials of the pieces of a feature split
over chunks add up (sums, not means), so the merged statistics equal a one-piece computation.
Definitions are exactextract's: mean = sum(w x) / sum(w), std the weighted population standard
deviation, quantiles by its weighted-quantile rule (stats.stackexchange.com/a/13223).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

MOMENTS = ("count", "sum", "sumsq")


@dataclass
class Partial:
    """Partials of n features x d dates (arrays n x d); values[(i, j)] = (x, w) when kept."""

    count: np.ndarray
    sum: np.ndarray
    sumsq: np.ndarray
    min: np.ndarray
    max: np.ndarray
    values: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def empty(cls, n: int, d: int) -> "Partial":
        z = lambda: np.zeros((n, d))  # noqa: E731
        return cls(z(), z(), z(), np.full((n, d), np.inf), np.full((n, d), -np.inf))

    def merge_rows(self, rows: np.ndarray, other: "Partial") -> None:
        """Add `other` (features rows[k] of self) into self."""
        np.add.at(self.count, rows, other.count)
        np.add.at(self.sum, rows, other.sum)
        np.add.at(self.sumsq, rows, other.sumsq)
        np.minimum.at(self.min, rows, other.min)
        np.maximum.at(self.max, rows, other.max)
        for (i, j), (x, w) in other.values.items():
            key = (int(rows[i]), j)
            if key in self.values:
                x0, w0 = self.values[key]
                x, w = np.concatenate([x0, x]), np.concatenate([w0, w])
            self.values[key] = (x, w)


def date_partial(W: sparse.csr_matrix, x: np.ndarray, valid: np.ndarray, out: Partial, j: int,
                 extremes: bool, keep_values: bool) -> None:
    """Fill date column j of `out` from one raster window (x, valid: flat over the window's cells):
    sparse products give the weighted count, sum and sum of squares of every feature at once
    (three matrix-vector products are several times faster than one product with 3 columns)."""
    xv = np.where(valid, x, 0.0)
    out.count[:, j] = W @ valid.astype(np.float64)
    out.sum[:, j] = W @ xv
    out.sumsq[:, j] = W @ (xv * xv)
    if not (extremes or keep_values) or W.nnz == 0:
        return
    vals, ok = x[W.indices], valid[W.indices]
    ok &= W.data > 0
    starts = W.indptr[:-1]
    nonempty = np.diff(W.indptr) > 0
    if extremes:
        lo = np.minimum.reduceat(np.where(ok, vals, np.inf), np.minimum(starts, W.nnz - 1))
        hi = np.maximum.reduceat(np.where(ok, vals, -np.inf), np.minimum(starts, W.nnz - 1))
        out.min[:, j] = np.where(nonempty, lo, np.inf)
        out.max[:, j] = np.where(nonempty, hi, -np.inf)
    if keep_values:
        for i in np.nonzero(nonempty)[0]:
            s = slice(W.indptr[i], W.indptr[i + 1])
            k = ok[s]
            if k.any():
                out.values[(int(i), j)] = (vals[s][k], W.data[s][k])


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """exactextract's weighted quantile: linear between sorted values at positions
    s_i = i w_i + (n - 1) sum_{k<i} w_k, the target being q (n - 1) sum(w)."""
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    n = len(x)
    cum = np.cumsum(w)
    s = np.arange(n) * w + (n - 1) * np.r_[0.0, cum[:-1]]
    target = q * cum[-1] * (n - 1)
    right = int(np.searchsorted(s, target, side="right"))
    if right >= n:
        return float(x[-1])
    left = right - 1
    return float(x[left] + (target - s[left]) * (x[right] - x[left]) / (s[right] - s[left]))


def finalize(p: Partial, stats: tuple[str, ...], quantiles: tuple[tuple[str, float], ...],
             full: np.ndarray, ha_per_cell: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Statistic -> (features x dates) array, NaN where missing (no valid pixel that date).
    `full` is each feature's coverage of the whole grid (cells outside the raster are not observed);
    `ha_per_cell` its ground hectares per cell, for `sum_ha` (the sum in equal-area hectares: for a
    0/1 raster, the hectares where it is 1)."""
    c = p.count
    ok = c > 0
    with np.errstate(all="ignore"):
        frac = np.where(full[:, None] > 0, np.minimum(1.0, c / full[:, None]), 0.0)
        mean = np.where(ok, p.sum / c, np.nan)
        out: dict[str, np.ndarray] = {"valid_fraction": frac}
        if "count" in stats:
            out["count"] = c
        for s in stats:
            if s == "mean":
                out[s] = mean
            elif s == "sum":
                out[s] = np.where(ok, p.sum, np.nan)
            elif s == "sum_ha":
                out[s] = np.where(ok, p.sum * ha_per_cell[:, None], np.nan)
            elif s == "std":
                out[s] = np.where(ok, np.sqrt(np.maximum(p.sumsq / c - mean * mean, 0.0)), np.nan)
            elif s in ("min", "max"):
                v = getattr(p, s)
                out[s] = np.where(ok & np.isfinite(v), v, np.nan)
    for name, q in quantiles:
        a = np.full(c.shape, np.nan)
        for (i, j), (x, w) in p.values.items():
            if ok[i, j]:
                a[i, j] = weighted_quantile(x, w, q)
        out[name] = a
    return out
