"""Difference a - b, band by band, of two rasters on the same grid (dNBR = NBR before - NBR after).

Its own operation because the two rasters come from two inputs (e.g. two dates of one collection),
which an expression on a single raster cannot reach. Output bands are a's names suffixed "_diff"
(nbr -> nbr_diff), so a chained expression can still name them; valid where both inputs are.
"""
from __future__ import annotations

import numpy as np

from ._base import Input, Operation, Params, Raster


class DifferenceParams(Params):
    """No parameters: the bands of `a` and `b` are paired by position."""


def _bands_out(bands_in, p: DifferenceParams) -> tuple[str, ...]:
    return tuple(f"{b}_diff" for b in bands_in["a"])


def _check(bands_in, p: DifferenceParams) -> None:
    if len(bands_in["a"]) != len(bands_in["b"]):
        raise ValueError(f"a and b need the same number of bands, got {list(bands_in['a'])} and {list(bands_in['b'])}")


def difference(inputs: dict[str, Raster], params: DifferenceParams) -> Raster:
    a, b = inputs["a"], inputs["b"]
    with np.errstate(all="ignore"):
        out = a.data - b.data
    valid = a.mask & b.mask & np.isfinite(out).all(0)
    return a.with_data(out, _bands_out({"a": a.band_names}, params), valid)


OPERATION = Operation(
    id="difference", title="Difference",
    description="a - b per band (paired by position), e.g. dNBR = NBR before - NBR after.",
    inputs={"a": Input("Minuend raster (e.g. before)"), "b": Input("Subtrahend raster, same band count (e.g. after)")},
    params=DifferenceParams, kernel=difference, output_bands=_bands_out, check=_check,
    keywords=("change detection", "difference"),
)
