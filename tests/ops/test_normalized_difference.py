from __future__ import annotations

import numpy as np
import pytest

from processes.ops import REGISTRY

from ._util import make_raster

OP = REGISTRY["normalized_difference"]


def test_ndvi_hand_checked_and_mask() -> None:
    # B04 (red), B08 (NIR); last pixel: a + b == 0; third pixel: invalid input
    r = make_raster([[[1, 2, 1, 0]], [[3, 2, 9, 0]]], ("B04", "B08"), mask=[[True, True, False, True]])
    p = OP.params(a="B08", b="B04", name="ndvi")
    out = OP.kernel({"data": r}, p)
    assert out.band_names == OP.bands_out({"data": r.band_names}, p) == ("ndvi",)
    assert out.mask.tolist() == [[True, True, False, False]]
    assert np.allclose(out.data[0, 0, :2], [0.5, 0.0])
    assert OP.value_range == (-1.0, 1.0)


def test_default_name() -> None:
    assert OP.bands_out({"data": ("B08", "B12")}, OP.params(a="B08", b="B12")) == ("nd",)


def test_missing_band_is_a_check_error() -> None:
    with pytest.raises(ValueError, match="B12"):
        OP.check({"data": ("B04", "B08")}, OP.params(a="B08", b="B12"))
    with pytest.raises(ValueError):
        OP.params(a="B08")  # b is required
