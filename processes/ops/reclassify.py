"""Reclassify: map value intervals to class values (like numpy.digitize), e.g. dNBR -> burn severity.

Intervals (`breaks` + `values`) rather than an exact value -> class table: the inputs are mostly
continuous (indices, slopes, differences), where exact float matches are fragile; an integer class
raster is remapped with breaks between the codes (e.g. 0.5, 1.5, ...). With right=false (default)
class i covers breaks[i-1] <= x < breaks[i]; x < breaks[0] gives values[0], x >= breaks[-1] values[-1].
"""
from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._base import Input, Operation, Params, Raster, band_or_first, check_band


class LegendEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: float = Field(..., description="A class value (one of `values`)")
    name: str = Field(..., min_length=1, max_length=200)
    color: str = Field(..., pattern=r"^#[0-9A-Fa-f]{6}$", description="#rrggbb")


class ReclassifyParams(Params):
    breaks: tuple[float, ...] = Field(..., min_length=1, max_length=255, examples=[[0.1, 0.27, 0.44, 0.66]],
                                      description="Strictly increasing class boundaries")
    values: tuple[float, ...] = Field(..., min_length=2, max_length=256, examples=[[0, 1, 2, 3, 4]],
                                      description="Output value of each interval: one more than breaks")
    right: bool = Field(False, description="Close intervals on the right (breaks[i-1] < x <= breaks[i])")
    band: str | None = Field(None, min_length=1, description="Band reclassified; default the input's first band")
    name: str = Field("reclassify", min_length=1, max_length=200, description="Output band name")
    legend: tuple[LegendEntry, ...] | None = Field(
        None, max_length=256, description="Names and colours of the classes: the output is then a class map "
                                          "(tiles in these colours, the legend in the result collection)")

    @model_validator(mode="after")
    def _consistent(self) -> "ReclassifyParams":
        if not np.isfinite(self.breaks + self.values).all():
            raise ValueError("breaks and values must be finite numbers")
        if any(b >= c for b, c in zip(self.breaks, self.breaks[1:])):
            raise ValueError("breaks must be strictly increasing")
        if len(self.values) != len(self.breaks) + 1:
            raise ValueError(f"values needs len(breaks) + 1 = {len(self.breaks) + 1} entries, got {len(self.values)}")
        stray = [e.value for e in self.legend or () if e.value not in self.values]
        if stray:
            raise ValueError(f"legend value(s) {stray} are not among the class values {list(self.values)}")
        return self


def _check(bands_in, p: ReclassifyParams) -> None:
    check_band(bands_in["data"], p.band)


def reclassify(inputs: dict[str, Raster], params: ReclassifyParams) -> Raster:
    r = inputs["data"]
    x = band_or_first(r, params.band)
    idx = np.digitize(x, np.asarray(params.breaks, np.float32), right=params.right)
    out = np.asarray(params.values, np.float32)[idx]
    return r.with_data(out[None], (params.name,), r.mask & np.isfinite(x))


OPERATION = Operation(
    id="reclassify", title="Reclassify",
    description="Map intervals of a band (between `breaks`) to class `values`.",
    inputs={"data": Input("Raster (first band, or `band`, is reclassified)")}, params=ReclassifyParams,
    kernel=reclassify, check=_check, output_bands=lambda bands_in, p: (p.name,), needs=lambda name, bands, p: (p.band,) if p.band else bands[:1], keywords=("classification",),
)
