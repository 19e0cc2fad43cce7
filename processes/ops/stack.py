"""Stack: the bands of `a` followed by the bands of `b`, on one grid (a band-math input from two rasters).

`expression` reads one raster; combining two (NDVI of this year > NDVI of last year, a slope mask
and a cloud-free composite) needs their bands side by side first. Names keep `a`'s and `b`'s band
names; a name `b` repeats gets a "_2" suffix, so every band stays addressable by name (and always
by position b1, b2...). Valid where both inputs are.
"""
from __future__ import annotations

import numpy as np

from ._base import Input, Operation, Params, Raster


class StackParams(Params):
    """No parameters: a's bands come first, then b's."""


def _bands_out(bands_in, p: StackParams) -> tuple[str, ...]:
    out = list(bands_in["a"])
    for name in bands_in["b"]:
        new, k = name, 2
        while new in out:
            new, k = f"{name}_{k}", k + 1
        out.append(new)
    return tuple(out)


def stack(inputs: dict[str, Raster], params: StackParams) -> Raster:
    a, b = inputs["a"], inputs["b"]
    names = _bands_out({"a": a.band_names, "b": b.band_names}, params)
    return a.with_data(np.concatenate([a.data, b.data]), names, a.mask & b.mask)


OPERATION = Operation(
    id="stack", title="Stack bands",
    description="The bands of a followed by the bands of b (repeated names suffixed _2), valid where both are.",
    inputs={"a": Input("First raster"), "b": Input("Second raster")},
    params=StackParams, kernel=stack, output_bands=_bands_out, keywords=("bands", "combine"),
)
