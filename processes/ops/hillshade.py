"""Hillshade: illumination of the terrain surface by a distant light source.

Horn's gradient on ground distances (metres), so a mountain is shaded alike at every zoom level
and latitude; the shade is the dot product of the surface normal with the light vector, which
needs no trigonometric call per pixel.
"""
from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from ._base import Input, Operation, Params, Raster, first_band
from ._terrain import horn_gradient


class HillshadeParams(Params):
    azimuth: float = Field(315.0, ge=0, le=360, description="Light direction, degrees clockwise from north")
    altitude: float = Field(45.0, ge=0, le=90, description="Light elevation above the horizon, degrees")
    z_factor: float = Field(1.0, gt=0, le=100000, description="Vertical exaggeration (elevation units per metre)")


def hillshade(inputs: dict[str, Raster], params: HillshadeParams) -> Raster:
    r = inputs["data"]
    p, q, valid = horn_gradient(r, params.z_factor)
    az, alt = math.radians(params.azimuth), math.radians(params.altitude)
    lx, ly, lz = math.sin(az) * math.cos(alt), math.cos(az) * math.cos(alt), math.sin(alt)
    shade = (lz - p * lx - q * ly) / np.sqrt(1.0 + p * p + q * q)
    out = np.clip(shade, 0.0, 1.0) * 255.0
    return r.with_data(out[None].astype(np.float32), ("hillshade",), valid)


OPERATION = Operation(
    id="hillshade",
    title="Hillshade",
    description="Shaded relief of an elevation band (Horn's method on ground distances), 0-255.",
    inputs={"data": Input("Elevation (first band is used)")},
    params=HillshadeParams,
    kernel=hillshade,
    halo=lambda p: 1, needs=first_band,
    keywords=("terrain", "dem"), value_range=(0.0, 255.0),
)
