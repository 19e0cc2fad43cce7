from __future__ import annotations

import pytest

from processes.ops import REGISTRY

from ._util import make_raster

OP = REGISTRY["mask"]
DATA = make_raster([[[1, 2, 3, 4, 5]], [[6, 7, 8, 9, 10]]], ("B04", "B08"), mask=[[True, True, True, True, False]])
SCL = make_raster([[4, 8, 3, 5, 4]], "SCL")


def test_scl_values_are_masked_out() -> None:
    out = OP.kernel({"data": DATA, "mask": SCL}, OP.params(values=[3, 8, 9, 10]))
    assert out.band_names == ("B04", "B08") == OP.bands_out({"data": ("B04", "B08"), "mask": ("SCL",)}, OP.params())
    assert out.data.tolist() == DATA.data.tolist()  # values unchanged, only validity
    assert out.mask.tolist() == [[True, False, False, True, False]]
    inverted = OP.kernel({"data": DATA, "mask": SCL}, OP.params(values=[4], invert=True))
    assert inverted.mask.tolist() == [[True, False, False, False, False]]


def test_zero_one_mask_and_its_own_validity() -> None:
    keep = make_raster([[1, 0, 1, 1, 1]], "threshold", mask=[[True, True, True, False, True]])
    out = OP.kernel({"data": DATA, "mask": keep}, OP.params())
    assert out.mask.tolist() == [[True, False, True, False, False]]  # unknown mask value: not kept
    out = OP.kernel({"data": DATA, "mask": keep}, OP.params(invert=True))
    assert out.mask.tolist() == [[False, True, False, False, False]]


def test_mask_band_and_check() -> None:
    two = make_raster([[[0, 0, 0, 0, 0]], [[3, 4, 4, 4, 4]]], ("B01", "SCL"))
    out = OP.kernel({"data": DATA, "mask": two}, OP.params(values=[3], mask_band="SCL"))
    assert out.mask.tolist() == [[False, True, True, True, False]]
    with pytest.raises(ValueError, match="SCL"):
        OP.check({"data": ("B04",), "mask": ("B01",)}, OP.params(mask_band="SCL"))
    with pytest.raises(ValueError):
        OP.params(values=[])
