"""Threshold: 1 where `band op value` holds, else 0 (e.g. burnt where dNBR > 0.27).

A 0/1 band rather than a boolean so it flows through every other operation (`mask` takes it as a
mask, `composite` can average it into a frequency). Invalid or non-finite input stays invalid:
"unknown" is not "below the threshold".
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from ._base import Input, Operation, Params, Raster, band_or_first, check_band

COMPARE = {"gt": np.greater, "ge": np.greater_equal, "lt": np.less, "le": np.less_equal,
           "eq": np.equal, "ne": np.not_equal}


class ThresholdParams(Params):
    value: float = Field(..., allow_inf_nan=False, description="Value compared with")
    op: Literal["gt", "ge", "lt", "le", "eq", "ne"] = Field(
        "gt", description="Comparison: 1 where `band op value` (gt >, ge >=, lt <, le <=, eq ==, ne !=)")
    band: str | None = Field(None, min_length=1, description="Band compared; default the input's first band")


def _check(bands_in, p: ThresholdParams) -> None:
    check_band(bands_in["data"], p.band)


def threshold(inputs: dict[str, Raster], params: ThresholdParams) -> Raster:
    r = inputs["data"]
    x = band_or_first(r, params.band)
    out = COMPARE[params.op](x, np.float32(params.value)).astype(np.float32)
    return r.with_data(out[None], ("threshold",), r.mask & np.isfinite(x))


OPERATION = Operation(
    id="threshold", title="Threshold",
    description="Binary 0/1 band: 1 where the band compares true with a value.",
    inputs={"data": Input("Raster (first band, or `band`, is compared)")}, params=ThresholdParams,
    kernel=threshold, check=_check, needs=lambda name, bands, p: (p.band,) if p.band else bands[:1], keywords=("classification", "binary"), value_range=(0.0, 1.0),
)
