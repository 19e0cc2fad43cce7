from __future__ import annotations

import numpy as np
import pytest

from processes.ops import REGISTRY

from ._util import make_raster

OP = REGISTRY["stack"]


def test_bands_side_by_side_valid_where_both_are() -> None:
    a = make_raster([[[1, 2]], [[3, 4]]], ("nd", "x"), mask=[[True, False]])
    b = make_raster([[5, 6]], "nd", mask=[[True, True]])
    out = OP.kernel({"a": a, "b": b}, OP.params())
    assert out.band_names == ("nd", "x", "nd_2") == OP.bands_out({"a": ("nd", "x"), "b": ("nd",)}, OP.params())
    assert np.array_equal(out.data[:, 0], np.array([[1, 2], [3, 4], [5, 6]], np.float32))
    assert out.mask.tolist() == [[True, False]]


def test_repeated_suffixes_stay_unique_and_no_parameters() -> None:
    assert OP.bands_out({"a": ("v", "v_2"), "b": ("v", "v_2")}, OP.params()) == ("v", "v_2", "v_3", "v_2_2")
    with pytest.raises(ValueError):
        OP.params(order="b")
