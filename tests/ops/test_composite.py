from __future__ import annotations

import warnings

import numpy as np
import pytest

from processes.ops import REGISTRY

from ._util import make_raster

OP = REGISTRY["composite"]
BANDS = ("B04", "SCL")


def scene(b04, scl, valid=(True, True, True), when="2024-06-01"):
    return make_raster([[b04], [scl]], BANDS, mask=[list(valid)], datetime=when)


# three pixels, four scenes (oldest first); SCL 4 = vegetation (clear), 9 = cloud, 3 = shadow, 0 = no data
SERIES = (
    scene([10, 900, 1], [4, 9, 0], when="2024-06-01"),
    scene([20, 30, 2], [4, 4, 0], when="2024-06-06"),
    scene([30, 50, 3], [4, 4, 9], valid=(True, True, False), when="2024-06-11"),
    scene([99, 40, 4], [3, 4, 3], when="2024-06-16"),
)


@pytest.mark.parametrize("method, expected", [
    ("median", [20, 40]), ("mean", [20, 40]), ("max", [30, 50]),
    ("min", [10, 30]), ("first", [10, 30]), ("last", [30, 40]),
])
def test_methods_use_only_clear_observations(method: str, expected: list[float]) -> None:
    p = OP.params(method=method)
    out = OP.kernel({"data": SERIES}, p)
    assert out.band_names == ("B04",) == OP.bands_out({"data": BANDS}, p)
    assert out.data[0, 0, :2].tolist() == expected  # cloud 900 and shadow 99 never count
    assert out.mask.tolist() == [[True, True, False]]  # pixel 3: no clear scene -> invalid
    assert out.datetime == "2024-06-01/2024-06-16"
    assert out.data.dtype == np.float32


def test_without_mask_band_and_band_selection() -> None:
    p = OP.params(mask_band=None, method="max", bands=["B04", "SCL"])
    out = OP.kernel({"data": SERIES}, p)
    assert out.band_names == ("B04", "SCL")
    assert out.data[:, 0].tolist() == [[99, 900, 4], [4, 9, 3]]  # pixel 3: scene 3 is invalid
    assert out.mask.all()
    assert OP.bands_out({"data": ("B04", "B08")}, OP.params(mask_band=None)) == ("B04", "B08")


def test_checks() -> None:
    with pytest.raises(ValueError, match="SCL"):
        OP.check({"data": ("B04", "B08")}, OP.params())
    with pytest.raises(ValueError, match="B12"):
        OP.check({"data": BANDS}, OP.params(bands=["B12"]))
    with pytest.raises(ValueError, match="no band"):
        OP.check({"data": ("SCL",)}, OP.params())
    with pytest.raises(ValueError):
        OP.params(method="mode")


def test_empty_series_is_an_error() -> None:
    with pytest.raises(ValueError, match="no scene in the requested datetime range"):
        OP.kernel({"data": ()}, OP.params())


@pytest.mark.parametrize("scenes", [1, 2, 3, 12, 13])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sorting_median_equals_numpy_nanmedian(scenes: int, dtype) -> None:
    """The composite's median reducer gives np.nanmedian's values exactly: odd and even counts of
    clear scenes, all-NaN pixels, ties, infinities, subnormal and huge values."""
    from processes.ops.composite import nanmedian

    rng = np.random.default_rng(scenes)
    stack = rng.normal(0.2, 0.1, (scenes, 40, 50)).astype(dtype)
    stack[:, :5] = rng.integers(0, 4, (scenes, 5, 50))  # ties
    stack[:, 5, :10] = np.inf
    stack[: (scenes + 1) // 2, 6, :10] = -np.inf
    stack[:, 7, :10] = np.finfo(dtype).max  # low + high overflows, as in numpy
    stack[:, 8, :10] = np.finfo(dtype).smallest_subnormal
    stack[rng.random(stack.shape) < 0.35] = np.nan
    stack[:, 9] = np.nan  # no clear scene
    with warnings.catch_warnings():  # all-NaN pixels, overflowing sums: numpy warns, so may we
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(stack, axis=0)
        got = nanmedian(stack.copy())
    assert got.dtype == expected.dtype
    assert np.array_equal(got, expected, equal_nan=True)
    assert np.isnan(got[9]).all() and np.isinf(got[7, :10][~np.isnan(got[7, :10])]).all()


def test_median_composite_equals_numpy_nanmedian_of_clear_scenes() -> None:
    """A 12-scene composite against an independent numpy computation (np.nanmedian, np.isin)."""
    rng = np.random.default_rng(7)
    b04 = rng.random((12, 30, 20), dtype=np.float32)
    scl = rng.choice(np.array([0, 3, 4, 5, 8, 9, 10], np.float32), (12, 30, 20), p=[.05, .1, .4, .2, .1, .1, .05])
    valid = rng.random((12, 30, 20)) > 0.1
    series = tuple(make_raster([b04[k], scl[k]], BANDS, mask=valid[k], datetime=f"2024-06-{k + 1:02d}")
                   for k in range(12))
    out = OP.kernel({"data": series}, OP.params(method="median"))
    clear = valid & ~np.isin(scl, [0, 3, 8, 9, 10])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(np.where(clear, b04, np.nan), axis=0)
    assert np.array_equal(out.mask, clear.any(0))
    assert np.array_equal(out.data[0][out.mask], expected[clear.any(0)])
