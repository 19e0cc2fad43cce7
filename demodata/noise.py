"""Coherent value noise on a hashed integer lattice, evaluated separably.

Why this design: the DEM is generated block by block (it can be 43200x21600),
so noise must be a pure function of global coordinates and seed - no FFT and no
RNG state. The lattice value at integer node (i, j) is a hash of (i, j, seed);
the field between nodes is a cubic B-spline of the surrounding 4x4 nodes.

On a regular grid the B-spline weights are separable (x weights depend only on
the column, y weights only on the row), so a block is two sparse matrix
products: ``Wy @ L @ Wx.T`` with 4 non-zeros per row. That costs ~8 flops per
output pixel and per octave, instead of 16 hashes per pixel.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)
_PX = np.uint64(0x8DA6B343)
_PY = np.uint64(0xD8163841)
_NORM = np.float32(1.6)  # B-spline smoothing shrinks std of U(-1,1) from 0.58 to 0.28


def hash_uniform(i: np.ndarray, j: np.ndarray, seed: int) -> np.ndarray:
    """Lattice values in [-1, 1) for integer nodes (i, j): splitmix64 of the packed key."""
    i = np.asarray(i).astype(np.int64).view(np.uint64)
    j = np.asarray(j).astype(np.int64).view(np.uint64)
    s = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        z = i * _PX ^ j * _PY ^ (s * _M1 + _M1)
        z = (z ^ (z >> np.uint64(30))) * _M2
        z = (z ^ (z >> np.uint64(27))) * _M3
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(40)).astype(np.float64) / float(1 << 23) - 1.0).astype(np.float32)


def bspline_weights(t: np.ndarray) -> np.ndarray:
    """Uniform cubic B-spline weights (4, n) for fractional positions t in [0, 1)."""
    t2, t3 = t * t, t * t * t
    return np.stack(
        [
            (1 - t) ** 3 / 6.0,
            (3 * t3 - 6 * t2 + 4) / 6.0,
            (-3 * t3 + 3 * t2 + 3 * t + 1) / 6.0,
            t3 / 6.0,
        ]
    )


def interp_matrix(pos: np.ndarray) -> tuple[sp.csr_matrix, int, int]:
    """Sparse B-spline interpolation matrix for 1D positions in lattice units.

    Returns (W, first, count): W has shape (len(pos), count) and column k stands
    for lattice index ``first + k``.
    """
    pos = np.asarray(pos, dtype=np.float64)
    base = np.floor(pos).astype(np.int64)
    w = bspline_weights(pos - base)  # (4, n)
    first = int(base.min()) - 1
    count = int(base.max()) + 3 - first
    rows = np.repeat(np.arange(pos.size), 4)
    cols = (base[:, None] - 1 - first + np.arange(4)[None, :]).ravel()
    data = w.T.ravel().astype(np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(pos.size, count)), first, count


def lattice_noise(u: np.ndarray, v: np.ndarray, seed: int, period_u: int | None = None) -> np.ndarray:
    """Value noise (len(v), len(u)) at the grid u (columns) x v (rows), in lattice units.

    ``period_u`` wraps the lattice in u (longitude) so the field is seamless at
    the antimeridian. Output has std ~0.44 and 99% of |values| below ~1.
    """
    wx, fx, nx = interp_matrix(u)
    wy, fy, ny = interp_matrix(v)
    ii = np.arange(fx, fx + nx)
    if period_u:
        ii = np.mod(ii, period_u)
    jj = np.arange(fy, fy + ny)
    lat = hash_uniform(jj[:, None], ii[None, :], seed)  # (ny, nx)
    # (ny, nx) @ (nx, ncols) as (Wx @ L.T).T keeps the sparse operand on the left
    lat *= _NORM
    xs = np.ascontiguousarray((wx @ lat.T).T)  # (ny, ncols)
    return np.asarray(wy @ xs, dtype=np.float32)


def sample_grid(grid: np.ndarray, u: np.ndarray, v: np.ndarray, wrap_u: bool = False) -> np.ndarray:
    """Smoothly resample a small 2D grid at separable positions (grid index units).

    Used to bring coarse precomputed fields (continents, mountain belts) to any
    output resolution as a pure function of the output coordinates.
    """
    wx, fx, nx = interp_matrix(u)
    wy, fy, ny = interp_matrix(v)
    ii = np.arange(fx, fx + nx)
    ii = np.mod(ii, grid.shape[1]) if wrap_u else np.clip(ii, 0, grid.shape[1] - 1)
    jj = np.clip(np.arange(fy, fy + ny), 0, grid.shape[0] - 1)
    sub = grid[np.ix_(jj, ii)].astype(np.float32)
    xs = np.ascontiguousarray((wx @ sub.T).T)
    return np.asarray(wy @ xs, dtype=np.float32)


def fbm(u: np.ndarray, v: np.ndarray, seed: int, octaves: int, period_u: int | None = None,
        gain: float = 0.5) -> np.ndarray:
    """Fractal sum of value noise, octave k at 2**k times the frequency (std ~0.3)."""
    total = np.zeros((len(v), len(u)), np.float32)
    amp, norm = 1.0, 0.0
    for k in range(octaves):
        f = 2**k
        total += amp * lattice_noise(u * f, v * f, seed + 1013 * k, period_u * f if period_u else None)
        norm += amp
        amp *= gain
    return total / norm
