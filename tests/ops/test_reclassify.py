from __future__ import annotations

import pytest

from processes.ops import REGISTRY

from ._util import make_raster

OP = REGISTRY["reclassify"]
R = make_raster([[-1, 0, 5, 10, 11, float("inf")]], "x", mask=[[True] * 5 + [True]])


def test_intervals_like_digitize() -> None:
    p = OP.params(breaks=[0, 10], values=[1, 2, 3])
    out = OP.kernel({"data": R}, p)
    assert out.band_names == ("reclassify",)
    assert out.data[0, 0, :5].tolist() == [1, 2, 2, 3, 3]
    assert out.mask.tolist() == [[True] * 5 + [False]]
    right = OP.kernel({"data": R}, OP.params(breaks=[0, 10], values=[1, 2, 3], right=True))
    assert right.data[0, 0, :5].tolist() == [1, 1, 2, 2, 3]


def test_mask_and_band() -> None:
    r = make_raster([[[1, 1]], [[20, 20]]], ("a", "b"), mask=[[False, True]])
    out = OP.kernel({"data": r}, OP.params(breaks=[10], values=[0, 7], band="b"))
    assert out.data[0, 0, 1] == 7 and out.mask.tolist() == [[False, True]]
    with pytest.raises(ValueError, match="band c"):
        OP.check({"data": ("a", "b")}, OP.params(breaks=[10], values=[0, 7], band="c"))


@pytest.mark.parametrize("breaks, values, message", [
    ([1, 1], [0, 1, 2], "strictly increasing"),
    ([2, 1], [0, 1, 2], "strictly increasing"),
    ([1, 2], [0, 1], "3 entries"),
    ([], [0], "at least 1"),
    (list(range(256)), list(range(257)), "at most 255"),
    ([1, float("nan")], [0, 1, 2], "finite"),
])
def test_validation(breaks, values, message) -> None:
    with pytest.raises(ValueError, match=message):
        OP.params(breaks=breaks, values=values)
