from __future__ import annotations

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
