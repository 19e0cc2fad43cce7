"""Slope in degrees (Horn's method on ground distances, so it is the same at every zoom)."""
from __future__ import annotations

import numpy as np
from pydantic import Field

from ._base import Input, Operation, Params, Raster, first_band
from ._terrain import horn_gradient


class SlopeParams(Params):
    z_factor: float = Field(1.0, gt=0, le=100000, description="Vertical exaggeration (elevation units per metre)")


def slope(inputs: dict[str, Raster], params: SlopeParams) -> Raster:
    r = inputs["data"]
    p, q, valid = horn_gradient(r, params.z_factor)
    deg = np.degrees(np.arctan(np.sqrt(p * p + q * q)))
    return r.with_data(deg[None], ("slope",), valid)


OPERATION = Operation(
    id="slope", title="Slope", description="Terrain slope in degrees (0 flat, 90 vertical).",
    inputs={"data": Input("Elevation (first band is used)")}, params=SlopeParams, kernel=slope,
    halo=lambda p: 1, needs=first_band, keywords=("terrain", "dem"), value_range=(0.0, 90.0),
)
