"""Streamed statistics equal numpy's on all the values at once (percentiles exactly)."""
from __future__ import annotations

import numpy as np
import pytest

from processes.ops import Raster
from processes.statistics import PERCENTILES, Moments


def _raster(data, mask):
    return Raster(data.astype(np.float32), mask, ("a", "b"), np.ones(mask.shape[0]), np.ones(mask.shape[0]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chunked_statistics_equal_numpy(seed):
    rng = np.random.default_rng(seed)
    parts = []
    for n in (1, 37, 500, 2000):  # chunks of very different sizes, negative values, ties
        data = np.stack([rng.normal(-3, 50, (n, 3)), rng.integers(-5, 5, (n, 3))])
        parts.append((data, rng.random((n, 3)) > 0.3))
    m = Moments(("a", "b"))
    for data, mask in parts:
        m.add(_raster(data, mask))
    vals = [np.concatenate([d[b][k].astype(np.float32) for d, k in parts]).astype(np.float64) for b in range(2)]
    stats = m.result(lambda: ([d[b][k].astype(np.float32) for b in range(2)] for d, k in parts))
    for b, name in enumerate(("a", "b")):
        s, v = stats[name], vals[b]
        assert s["count"] == v.size and s["total"] == sum(k.size for _, k in parts)
        assert s["min"] == v.min() and s["max"] == v.max()
        assert s["mean"] == pytest.approx(v.mean(), rel=1e-12, abs=1e-12)
        assert s["std"] == pytest.approx(v.std(), rel=1e-12)
        for key, q in PERCENTILES.items():
            assert s[key] == np.percentile(v, q), key


def test_band_without_values():
    m = Moments(("a", "b"))
    m.add(_raster(np.ones((2, 4, 4)), np.zeros((4, 4), bool)))
    assert m.result(lambda: [[np.array([], np.float32)] * 2])["a"] == {"count": 0, "total": 16}
