from __future__ import annotations

import numpy as np
import pytest

from processes.ops import REGISTRY

from ._util import make_raster

OP = REGISTRY["difference"]


def test_dnbr_hand_checked() -> None:
    before = make_raster([[0.6, 0.5, 0.4]], "nbr", mask=[[True, True, False]])
    after = make_raster([[0.1, 0.5, 0.0]], "nbr", mask=[[True, False, True]])
    p = OP.params()
    out = OP.kernel({"a": before, "b": after}, p)
    assert out.band_names == ("nbr_diff",) == OP.bands_out({"a": ("nbr",), "b": ("nbr",)}, p)
    assert np.allclose(out.data[0, 0, 0], 0.5)
    assert out.mask.tolist() == [[True, False, False]]


def test_per_band_and_checks() -> None:
    a = make_raster([[[5, 6]], [[1, 1]]], ("x", "y"))
    b = make_raster([[[1, 2]], [[3, 4]]], ("p", "q"))
    out = OP.kernel({"a": a, "b": b}, OP.params())
    assert out.band_names == ("x_diff", "y_diff")
    assert out.data[:, 0].tolist() == [[4, 4], [-2, -3]]
    with pytest.raises(ValueError, match="same number of bands"):
        OP.check({"a": ("x", "y"), "b": ("p",)}, OP.params())
    with pytest.raises(ValueError):
        OP.params(scale=2)
