"""Segments of overlapping windows agree with one-piece segmentation (labels on a global lattice)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from processes.ops import REGISTRY

from ._util import make_raster

SIZE = 256


def fields(seed: int = 0) -> np.ndarray:
    """Piecewise-constant 'parcels' with noise: 3 bands in 0..1."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    cells = (ys // 37) * 16 + (xs // 29)
    values = rng.uniform(0.1, 0.9, (3, cells.max() + 1))
    img = values[:, cells] + rng.normal(0, 0.02, (3, SIZE, SIZE))
    return np.clip(np.stack([gaussian_filter(b, 0.7) for b in img]), 0, 1).astype(np.float32)


def run(img, params, r0=0, c0=0, rows=SIZE, cols=SIZE):
    op = REGISTRY["segment"]
    h = op.halo(params)
    a, b = max(0, r0 - h), max(0, c0 - h)
    win = img[:, a:r0 + rows + h, b:c0 + cols + h]
    out = op.kernel({"data": replace(make_raster(win, ("r", "g", "b")), origin=(a, b))}, params)
    return out.data[0][r0 - a:r0 - a + rows, c0 - b:c0 - b + cols]


@pytest.mark.parametrize("kw", [{"method": "slic", "size": 16}, {"method": "felzenszwalb", "scale": 2.0}])
def test_two_by_two_windows_match_one_piece(kw):
    img = fields()
    p = REGISTRY["segment"].params(**kw)
    whole = run(img, p)
    half = SIZE // 2
    tiled = np.block([[run(img, p, r, c, half, half) for c in (0, half)] for r in (0, half)])
    agree = (tiled == whole).mean()
    n_whole, n_tiled = len(np.unique(whole)), len(np.unique(tiled))
    assert agree > 0.99, agree
    assert abs(n_tiled - n_whole) <= 0.02 * n_whole + 1


def test_labels_follow_the_global_lattice():
    """The same pixels in windows at different offsets give the same labels (not renumbered)."""
    img = fields(1)
    p = REGISTRY["segment"].params(method="felzenszwalb", scale=2.0, halo=200)
    a = run(img, p, 40, 40, 100, 100)
    b = run(img, p, 60, 50, 80, 90)
    assert np.array_equal(a[20:, 10:], b)
