"""Band math: a client's formula such as "(B08 - B04) / (B08 + B04)" evaluated per pixel.

Any index (NDVI, NBR, NDWI, EVI...) without a new operation. The formula is checked against a
whitelist when the parameters are validated (see `_formula`: never eval, numexpr or attribute access),
so a bad formula is a 400 before any pixel is read; band names are checked against the input's bands
in `check`. Bands are named as in the input (when a valid identifier) or by position b1, b2, ...;
"f1; f2" gives two output bands. A pixel is valid where the input is and every result is finite.
"""
from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from ._base import Input, Operation, Params, Raster
from ._formula import MAX_LENGTH, evaluate, parse, variable


class ExpressionParams(Params):
    expression: str = Field(..., min_length=1, max_length=MAX_LENGTH, examples=["(B08 - B04) / (B08 + B04)"],
                            description="Formula(s) on band names or b1, b2...; ';' separates output bands")
    name: str = Field("expression", min_length=1, max_length=200,
                      description="Output band name(s): one per formula separated by ';', or one name suffixed _1, _2...")

    @model_validator(mode="after")
    def _valid(self) -> "ExpressionParams":
        _bands_out({}, self)
        return self


def _bands_out(bands_in, p: ExpressionParams) -> tuple[str, ...]:
    n, names = len(parse(p.expression)), tuple(s.strip() for s in p.name.split(";"))
    if len(names) == 1 and n > 1:
        names = tuple(f"{names[0]}_{i}" for i in range(1, n + 1))
    if len(names) != n or len(set(names)) != n or not all(names):
        raise ValueError(f"'name' must give {n} distinct non-empty band name(s) separated by ';'")
    return names


def _check(bands_in, p: ExpressionParams) -> None:
    for _, names in parse(p.expression):
        for name in sorted(names):
            variable(name, bands_in["data"])


def _needs(name: str, bands: tuple[str, ...], p: ExpressionParams) -> tuple[str, ...] | None:
    """The bands the formulas name; all of them when a formula uses positions (b1, b2...)."""
    used = set().union(*(names for _, names in parse(p.expression)))
    if any(n not in bands and variable(n, bands) is not None for n in used):
        return None
    return tuple(b for b in bands if b in used)


def expression(inputs: dict[str, Raster], params: ExpressionParams) -> Raster:
    r = inputs["data"]
    with np.errstate(all="ignore"):
        out = np.stack([np.broadcast_to(np.asarray(evaluate(tree, r), np.float32), r.shape)
                        for tree, _ in parse(params.expression)])
    return r.with_data(out, _bands_out({}, params), r.mask & np.isfinite(out).all(axis=0))


OPERATION = Operation(
    id="expression", title="Band math",
    description="Per-pixel formula on the input's bands (whitelisted arithmetic, comparisons and numpy functions).",
    inputs={"data": Input("Raster whose bands the formula names")}, params=ExpressionParams, kernel=expression,
    output_bands=_bands_out, check=_check, needs=_needs, keywords=("band math", "expression", "index"),
)
