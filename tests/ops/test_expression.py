from __future__ import annotations

import numpy as np
import pytest

from processes.ops import REGISTRY

from ._util import make_raster

OP = REGISTRY["expression"]
BANDS = {"data": ("B04", "B08")}


def run(expression: str, r=None, **kw):
    r = r if r is not None else make_raster([[[1, 2], [3, 0]], [[3, 2], [5, 0]]], BANDS["data"])
    p = OP.params(expression=expression, **kw)
    OP.check({"data": r.band_names}, p)
    return OP.kernel({"data": r}, p)


def test_ndvi_by_name_and_position_hand_checked() -> None:
    out = run("(B08 - B04) / (B08 + B04)")
    assert out.band_names == ("expression",)
    assert np.allclose(out.data[0][out.mask], [0.5, 0.0, 0.25])
    assert out.mask.tolist() == [[True, True], [True, False]]  # 0/0 is not finite: invalid
    assert np.array_equal(run("(b2 - b1) / (b2 + b1)").data[0][out.mask], out.data[0][out.mask])


def test_input_mask_propagates() -> None:
    r = make_raster([[1, 2]], "B04", mask=[[True, False]])
    assert run("B04 * 2", r).mask.tolist() == [[True, False]]


def test_several_expressions_and_names() -> None:
    out = run("B04 + 1; B08 > 2", name="a; b")
    assert out.band_names == ("a", "b")
    assert out.data[0].tolist() == [[2, 3], [4, 1]]
    assert out.data[1].tolist() == [[1, 0], [1, 0]]
    assert run("B04; B08", name="x").band_names == ("x_1", "x_2")
    with pytest.raises(ValueError, match="distinct"):
        OP.params(expression="B04; B08", name="a; a")
    with pytest.raises(ValueError, match="2 distinct"):
        OP.params(expression="B04; B08", name="a; b; c")


def test_functions_logic_and_constants() -> None:
    r = make_raster([[-4, 1, 9]], "x")
    assert run("sqrt(abs(x))", r).data[0].tolist() == [[2, 1, 3]]
    assert run("where(x > 0, x, 0)", r).data[0].tolist() == [[0, 1, 9]]
    assert run("clip(x, 0, 5)", r).data[0].tolist() == [[0, 1, 5]]
    assert run("maximum(x, 2) - minimum(x, 2)", r).data[0].tolist() == [[6, 1, 7]]
    assert run("(x > 0) & (x < 5)", r).data[0].tolist() == [[0, 1, 0]]
    assert run("0 < x < 5", r).data[0].tolist() == [[0, 1, 0]]
    assert run("~(x > 0) | (x == 9)", r).data[0].tolist() == [[1, 0, 1]]
    assert run("-x ** 2", r).data[0].tolist() == [[-16, -1, -81]]
    assert np.allclose(run("arctan2(1, 1) * 4", r).data[0], np.pi)
    assert run("x * 1 + 2", r).data.dtype == np.float32
    out = run("where(x > 0, x, nan)", r)  # nan marks a pixel invalid
    assert out.mask.tolist() == [[False, True, True]]
    assert run("log(x)", r).mask.tolist() == [[False, True, True]]
    assert run("10 ** 10 ** 10", r).mask.tolist() == [[False] * 3]  # inf, no giant integer
    assert run("3", r).data[0].tolist() == [[3, 3, 3]]


@pytest.mark.parametrize("text, message", [
    ("__import__('os')", "not allowed"),
    ("B04.real", "not allowed"),
    ("open('/etc/passwd')", "not allowed"),
    ("B04[0]", "not allowed"),
    ("(lambda: 1)()", "not allowed"),
    ("'B04'", "not allowed"),
    ("np.sqrt(B04)", "not allowed"),
    ("sqrt(B04, out=B08)", "not allowed"),
    ("sqrt(B04, B08)", "takes 1 argument"),
    ("B04 if B08 else 1", "not allowed"),
    ("(x := 1)", "not allowed"),
    ("B04 and B08", "not allowed"),
    ("B04 // 2", "not allowed"),
    ("[B04]", "not allowed"),
    ("True + B04", "not allowed"),
    ("B04 +", "invalid expression"),
    ("B04; ", "invalid expression"),
    ("B04 + " * 200 + "1", "1000 characters"),
    ("-" * 200 + "B04", "nested deeper"),
    ("(" * 300 + "B04" + ")" * 300, "invalid expression"),
])
def test_forbidden_constructs_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OP.params(expression=text)
    with pytest.raises(ValueError, match=message):  # check() too, e.g. for a params built without validation
        OP.check(BANDS, OP.params.model_construct(expression=text, name="expression"))


@pytest.mark.parametrize("text", ["open", "B02 + B04", "b3", "b0", "sqrt"])
def test_unknown_names_fail_in_check(text: str) -> None:
    p = OP.params(expression=text)
    with pytest.raises(ValueError, match="unknown band"):
        OP.check(BANDS, p)
