from __future__ import annotations

import pytest

from processes.ops import REGISTRY

from ._util import make_raster

OP = REGISTRY["threshold"]
R = make_raster([[0.1, 0.27, 0.5, float("nan")]], "dnbr", mask=[[True, True, False, True]])


@pytest.mark.parametrize("op, expected", [
    ("gt", [0, 0]), ("ge", [0, 1]), ("lt", [1, 0]), ("le", [1, 1]), ("eq", [0, 1]), ("ne", [1, 0]),
])
def test_comparisons(op: str, expected: list[int]) -> None:
    out = OP.kernel({"data": R}, OP.params(value=0.27, op=op))
    assert out.band_names == ("threshold",)
    assert out.data[0, 0, :2].tolist() == expected
    assert out.mask.tolist() == [[True, True, False, False]]  # input mask, and nan is unknown, not 0


def test_named_band_and_checks() -> None:
    r = make_raster([[[5, 0]], [[0, 5]]], ("a", "b"))
    assert OP.kernel({"data": r}, OP.params(value=1)).data[0].tolist() == [[1, 0]]
    assert OP.kernel({"data": r}, OP.params(value=1, band="b")).data[0].tolist() == [[0, 1]]
    with pytest.raises(ValueError, match="band c"):
        OP.check({"data": ("a", "b")}, OP.params(value=1, band="c"))
    with pytest.raises(ValueError):
        OP.params(value=1, op="between")
    with pytest.raises(ValueError):
        OP.params(value=float("nan"))
