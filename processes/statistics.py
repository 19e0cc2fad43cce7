"""Per-band statistics of a region that arrives chunk by chunk, in bounded memory.

count, min, max, mean and std merge exactly from per-chunk moments (Chan et al.'s pairwise update
of the sum of squared deviations). Percentiles are exact order statistics found by a two-pass
radix select over the float32 values (a 65,536-bin histogram of the high 16 bits of each value's
order-preserving integer key, then of the low 16 bits inside the bins that hold the wanted
ranks), interpolated as numpy's default `linear` method does; each pass reads the values again
window by window (from the written result), so nothing holds all the pixels at once.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from .ops import Raster

PERCENTILES = {"percentile_2": 2.0, "median": 50.0, "percentile_98": 98.0}
Blocks = Callable[[], Iterable[list[np.ndarray]]]  # each call: per window, the valid values of every band


class Moments:
    """Running count, min, max, mean and sum of squared deviations of every band."""

    def __init__(self, band_names: tuple[str, ...]) -> None:
        self.band_names = band_names
        k = len(band_names)
        self.n, self.total = np.zeros(k, np.int64), 0
        self.mean, self.m2 = np.zeros(k), np.zeros(k)
        self.min, self.max = np.full(k, np.inf), np.full(k, -np.inf)

    def add(self, r: Raster) -> None:
        """A chunk's values, merged in."""
        self.merge(Moments.of(r))

    @classmethod
    def of(cls, r: Raster) -> "Moments":
        """One chunk's moments (where it was evaluated: a worker sends these, not its pixels)."""
        m = cls(r.band_names)
        m.total = int(r.mask.size)
        for b, band in enumerate(r.data):
            vals = band[r.mask].astype(np.float64)
            if vals.size:
                m.n[b], m.mean[b] = vals.size, vals.mean()
                m.m2[b] = ((vals - m.mean[b]) ** 2).sum()
                m.min[b], m.max[b] = vals.min(), vals.max()
        return m

    def merge(self, other: "Moments") -> None:
        """Another chunk's moments, merged in (Chan et al.)."""
        self.total += other.total
        for b in range(len(self.band_names)):
            n_b = other.n[b]
            if n_b == 0:
                continue
            n_a = self.n[b]
            delta = other.mean[b] - self.mean[b]
            self.n[b] = n_a + n_b
            self.mean[b] += delta * n_b / self.n[b]
            self.m2[b] += other.m2[b] + delta * delta * n_a * n_b / self.n[b]
            self.min[b], self.max[b] = min(self.min[b], other.min[b]), max(self.max[b], other.max[b])

    def result(self, blocks: Blocks) -> dict[str, Any]:
        """The statistics document; `blocks` gives the values again for the percentiles."""
        pct = percentiles(blocks, [int(n) for n in self.n], list(PERCENTILES.values()))
        out: dict[str, Any] = {}
        for b, name in enumerate(self.band_names):
            n = int(self.n[b])
            if n == 0:
                out[name] = {"count": 0, "total": self.total}
                continue
            out[name] = {"count": n, "total": self.total, "min": float(self.min[b]), "max": float(self.max[b]),
                         "mean": float(self.mean[b]), "std": float(np.sqrt(self.m2[b] / n))}
            out[name] |= {key: pct[b][i] for i, key in enumerate(PERCENTILES)}
        return out


def _keys(v: np.ndarray) -> np.ndarray:
    """float32 -> uint32 keys in the same order (negative values flipped whole, positive ones get the sign bit)."""
    u = np.ascontiguousarray(v, np.float32).view(np.uint32)
    return np.where(u & 0x80000000, ~u, u | 0x80000000)


def _value(key: int) -> float:
    u = key ^ 0x80000000 if key & 0x80000000 else ~key & 0xFFFFFFFF
    return float(np.array([u], np.uint32).view(np.float32)[0])


def _rank_in(hist: np.ndarray, rank: int) -> tuple[int, int]:
    """(bin, rank within the bin) of the rank-th smallest value (0-based)."""
    cum = np.cumsum(hist)
    b = int(np.searchsorted(cum, rank, side="right"))
    return b, rank - (int(cum[b - 1]) if b else 0)


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's interpolation between neighbouring order statistics (exact at t=0 and t=1)."""
    d = b - a
    return b - d * (1 - t) if t >= 0.5 else a + d * t


def percentiles(blocks: Blocks, counts: list[int], qs: list[float]) -> list[list[float | None]]:
    """Per band, the q-th percentiles of its values (None for a band without values)."""
    wanted: list[dict[int, tuple[int, int]]] = []  # per band: rank -> (high bin, rank in bin)
    ranks_of: list[list[tuple[int, int, float]]] = []
    for n in counts:
        lst = []
        for q in qs:
            idx = q / 100.0 * (n - 1)
            lo = int(np.floor(idx))
            lst.append((lo, min(lo + 1, n - 1), idx - lo))
        ranks_of.append(lst if n else [])
    high = [np.zeros(1 << 16, np.int64) for _ in counts]
    for window in blocks():
        for b, vals in enumerate(window):
            if counts[b] and vals.size:
                high[b] += np.bincount(_keys(vals) >> 16, minlength=1 << 16)
    for b in range(len(counts)):
        wanted.append({r: _rank_in(high[b], r) for lo, hi, _ in ranks_of[b] for r in (lo, hi)})
    low = [{hb: np.zeros(1 << 16, np.int64) for hb, _ in w.values()} for w in wanted]
    for window in blocks():
        for b, vals in enumerate(window):
            if not low[b] or not vals.size:
                continue
            keys = _keys(vals)
            top = keys >> 16
            for hb, hist in low[b].items():
                hist += np.bincount(keys[top == hb] & 0xFFFF, minlength=1 << 16)
    out: list[list[float | None]] = []
    for b in range(len(counts)):
        if not counts[b]:
            out.append([None] * len(qs))
            continue
        value = {r: _value((hb << 16) | _rank_in(low[b][hb], within)[0]) for r, (hb, within) in wanted[b].items()}
        out.append([_lerp(value[lo], value[hi], t) for lo, hi, t in ranks_of[b]])
    return out
