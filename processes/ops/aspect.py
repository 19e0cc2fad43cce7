"""Aspect: compass direction the slope faces, degrees clockwise from north; flat cells are invalid."""
from __future__ import annotations

import numpy as np
from pydantic import Field

from ._base import Input, Operation, Params, Raster, first_band
from ._terrain import horn_gradient


class AspectParams(Params):
    flat_threshold: float = Field(1e-6, ge=0, description="Gradients below this magnitude are flat (no aspect)")


def aspect(inputs: dict[str, Raster], params: AspectParams) -> Raster:
    r = inputs["data"]
    p, q, valid = horn_gradient(r)
    deg = np.degrees(np.arctan2(-p, -q)) % 360.0
    valid = valid & (np.hypot(p, q) > params.flat_threshold)
    return r.with_data(deg[None], ("aspect",), valid)


OPERATION = Operation(
    id="aspect", title="Aspect", description="Downslope direction in degrees clockwise from north.",
    inputs={"data": Input("Elevation (first band is used)")}, params=AspectParams, kernel=aspect,
    halo=lambda p: 1, needs=first_band, keywords=("terrain", "dem"), value_range=(0.0, 360.0),
)
