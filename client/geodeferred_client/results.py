"""What evaluations return: a tile layer description, and arrays from GeoTIFF bytes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .geotiff import decode


@dataclass(frozen=True)
class TileLayer:
    """`url` is an XYZ template ({z}/{y}/{x}) leafmap's add_tile_layer and ipyleaflet's TileLayer take."""

    url: str
    tilejson: dict[str, Any]
    collection: str

    def __str__(self) -> str:
        return self.url

    @property
    def bounds(self) -> list[float]:
        return self.tilejson["bounds"]


def to_array(data: bytes, xarray: bool = False) -> Any:
    """GeoTIFF bytes -> (bands, rows, cols) float32 numpy array, or an xarray.DataArray with coordinates
    of pixel centres (x, y in the output CRS), band names and the CRS in attrs."""
    d = decode(data)
    if not xarray:
        return d.data
    import xarray as xr

    x0, dx, _, y0, _, dy = d.transform
    rows, cols = d.data.shape[1:]
    return xr.DataArray(d.data, dims=("band", "y", "x"),
                        coords={"band": list(d.band_names), "y": y0 + dy * (np.arange(rows) + 0.5),
                                "x": x0 + dx * (np.arange(cols) + 0.5)},
                        attrs={"crs": d.crs, "transform": d.transform})
