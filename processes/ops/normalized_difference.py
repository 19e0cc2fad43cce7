"""Normalized difference (a - b) / (a + b) of two named bands: NDVI, NBR, NDWI, NDSI...

Its own operation rather than an expression because it is the most used index and has a known range
(-1..1 for non-negative reflectances) for display defaults, and `check` can name the missing band.
A pixel is invalid where a + b == 0 (the ratio is undefined there, not 0) or the input is invalid.
"""
from __future__ import annotations

import numpy as np
from pydantic import Field

from ._base import Input, Operation, Params, Raster


class NormalizedDifferenceParams(Params):
    a: str = Field(..., min_length=1, examples=["B08"], description="First band, e.g. B08 (NIR) for NDVI and NBR")
    b: str = Field(..., min_length=1, examples=["B04"],
                   description="Second band, e.g. B04 (red) for NDVI, B12 (SWIR) for NBR")
    name: str = Field("nd", min_length=1, max_length=200, description="Output band name")


def _check(bands_in, p: NormalizedDifferenceParams) -> None:
    missing = [x for x in (p.a, p.b) if x not in bands_in["data"]]
    if missing:
        raise ValueError(f"band(s) {', '.join(missing)} not in the input (has {', '.join(bands_in['data'])})")


def normalized_difference(inputs: dict[str, Raster], params: NormalizedDifferenceParams) -> Raster:
    r = inputs["data"]
    a, b = r.band(params.a), r.band(params.b)
    total = a + b
    with np.errstate(all="ignore"):
        nd = (a - b) / total
    valid = r.mask & (total != 0) & np.isfinite(nd)
    return r.with_data(nd[None], (params.name,), valid)


OPERATION = Operation(
    id="normalized_difference", title="Normalized difference",
    description="(a - b) / (a + b) of two bands of the input (NDVI: a=B08, b=B04; NBR: a=B08, b=B12).",
    inputs={"data": Input("Raster holding both bands")}, params=NormalizedDifferenceParams,
    kernel=normalized_difference, output_bands=lambda bands_in, p: (p.name,), check=_check,
    needs=lambda name, bands, p: (p.a, p.b),
    keywords=("index", "ndvi", "nbr", "spectral"), value_range=(-1.0, 1.0),
)
