"""Mask: make pixels of `data` invalid according to a second raster, e.g. clouds from Sentinel-2 SCL.

Two forms of mask raster, one rule: with `values`, a pixel is masked out where the mask band holds one
of them (SCL cloud/shadow classes [3, 8, 9, 10]); without, the mask is a 0/1 raster (a threshold's
output) and pixels where it is 0 are masked out. `invert` keeps the matched pixels instead. Output:
`data`'s bands and values unchanged, valid = data valid & mask valid & kept (a pixel whose mask is
unknown is not kept: a cloud there cannot be ruled out).
"""
from __future__ import annotations

import numpy as np
from pydantic import Field

from ._base import Input, Operation, Params, Raster


class MaskParams(Params):
    values: tuple[float, ...] | None = Field(None, min_length=1, max_length=255, examples=[[3, 8, 9, 10]],
                                             description="Mask out pixels whose mask value is one of these; "
                                                         "default: mask out pixels where the mask is 0")
    invert: bool = Field(False, description="Keep only the matched pixels (with values: those classes; "
                                            "without: where the mask is 0)")
    mask_band: str | None = Field(None, min_length=1, description="Band of the `mask` input; default its first band")


def _check(bands_in, p: MaskParams) -> None:
    if p.mask_band is not None and p.mask_band not in bands_in["mask"]:
        raise ValueError(f"mask_band {p.mask_band} not in the mask input (has {', '.join(bands_in['mask'])})")


def mask(inputs: dict[str, Raster], params: MaskParams) -> Raster:
    d, m = inputs["data"], inputs["mask"]
    x = m.band(params.mask_band) if params.mask_band is not None else m.data[0]
    hit = np.isin(x, np.asarray(params.values, np.float32)) if params.values is not None else x == 0
    keep = hit if params.invert else ~hit
    return d.with_data(d.data, d.band_names, d.mask & m.mask & np.isfinite(x) & keep)


OPERATION = Operation(
    id="mask", title="Mask",
    description="Invalidate pixels of `data` where `mask` holds given values (or is 0).",
    inputs={"data": Input("Raster to mask"), "mask": Input("Mask raster (e.g. SCL classes, or a 0/1 threshold)")},
    params=MaskParams, kernel=mask, output_bands=lambda bands_in, p: bands_in["data"], check=_check,
    needs=lambda name, bands, p: None if name == "data" else ((p.mask_band,) if p.mask_band else bands[:1]),
    keywords=("mask", "cloud"),
)
