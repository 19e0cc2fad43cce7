"""The value type every operation consumes and produces, and the operation declaration.

An operation is a pure function on `Raster`s (arrays in, arrays out, no I/O) plus what the engine
must know to plan reads: its named raster inputs, its parameter model and its neighbourhood halo.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Literal, Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True)
class Raster:
    """Bands x rows x cols float32 values, a rows x cols validity mask and the ground cell size.

    `cell_x`/`cell_y` are per-row ground distances in metres between pixel centres, so terrain
    operations give the same answer at every zoom and latitude (titiler #978 shades on pixel
    indices instead). A time series of scenes is a tuple of Rasters, see `Series`.
    """

    data: np.ndarray  # (bands, rows, cols) float32
    mask: np.ndarray  # (rows, cols) bool, True where valid
    band_names: tuple[str, ...]
    cell_x: np.ndarray  # (rows,) metres
    cell_y: np.ndarray  # (rows,) metres
    datetime: str | None = None
    # (row, col) of the top-left pixel on its grid's global lattice (the grid origin divided by the
    # cell size), so operations that label objects (segment) give the same label in every window
    origin: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.data.ndim != 3 or self.data.shape[0] != len(self.band_names):
            raise ValueError(f"data shape {self.data.shape} does not match bands {self.band_names}")
        if self.mask.shape != self.data.shape[1:]:
            raise ValueError(f"mask shape {self.mask.shape} != raster shape {self.data.shape[1:]}")

    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape[1], self.data.shape[2]

    def band(self, name: str) -> np.ndarray:
        return self.data[self.band_names.index(name)]

    def with_data(self, data: np.ndarray, band_names: tuple[str, ...], mask: np.ndarray | None = None) -> "Raster":
        return replace(self, data=data.astype(np.float32, copy=False), band_names=band_names,
                       mask=self.mask if mask is None else mask)

    def crop(self, margin: int) -> "Raster":
        """Drop `margin` pixels on every side (a halo that is no longer needed)."""
        if margin == 0:
            return self
        s = slice(margin, -margin)
        origin = None if self.origin is None else (self.origin[0] + margin, self.origin[1] + margin)
        return replace(self, data=self.data[:, s, s], mask=self.mask[s, s],
                       cell_x=self.cell_x[s], cell_y=self.cell_y[s], origin=origin)


Series = tuple[Raster, ...]
InputKind = Literal["raster", "series"]


class Params(BaseModel):
    """Base of every operation's parameter model: a misspelled parameter is an error, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Input:
    title: str
    kind: InputKind = "raster"
    bands: int | None = None  # required band count, None = any
    optional: bool = False  # may be left out of the request (e.g. the 3rd..8th rasters of a stack)


@dataclass(frozen=True)
class Operation:
    """Declaration of one atomic process: the engine, the OGC description and OpenAPI derive from it."""

    id: str
    title: str
    description: str
    inputs: Mapping[str, Input]
    params: type[Params]
    kernel: Callable[..., Raster]  # kernel(inputs: dict[str, Raster | Series], params) -> Raster
    halo: Callable[[Params], int] = field(default=lambda p: 0)
    output_bands: Callable[[Mapping[str, tuple[str, ...]], Params], tuple[str, ...]] | None = None
    keywords: tuple[str, ...] = ()
    # check(bands_in, params) raises ValueError when inputs cannot work (e.g. a band is missing)
    value_range: tuple[float, float] | None = None  # typical output range, for display defaults
    # needs(input name, its band names, params) -> the bands the kernel reads (None: all of them),
    # so the engine reads only those from a collection (an NDVI reads 2 of 6 reflectance bands)
    needs: Callable[[str, tuple[str, ...], Params], tuple[str, ...] | None] | None = None
    check: Callable[[Mapping[str, tuple[str, ...]], Params], None] | None = None

    def bands_out(self, bands_in: Mapping[str, tuple[str, ...]], params: Params) -> tuple[str, ...]:
        """Band names of the output given input band names (defaults to the operation's id)."""
        if self.output_bands is not None:
            return self.output_bands(bands_in, params)
        return (self.id,)


def first_band(name: str, bands: tuple[str, ...], params: Params) -> tuple[str, ...]:
    """`needs` of operations that read the first band only."""
    return bands[:1]


def check_band(bands: tuple[str, ...], band: str | None, what: str = "band") -> None:
    """An optional band parameter must name one of the input's bands."""
    if band is not None and band not in bands:
        raise ValueError(f"{what} {band} not in the input (has {', '.join(bands)})")


def band_or_first(r: Raster, band: str | None) -> np.ndarray:
    return r.band(band) if band is not None else r.data[0]


def valid_all(*masks: np.ndarray) -> np.ndarray:
    out = masks[0].copy()
    for m in masks[1:]:
        out &= m
    return out


def neighbourhood_valid(mask: np.ndarray, radius: int = 1) -> np.ndarray:
    """A pixel is valid only if its whole (2r+1)^2 neighbourhood is (edges of the array are not)."""
    out = np.zeros_like(mask)
    r = radius
    core = mask[r:-r, r:-r].copy() if r else mask.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            core &= mask[r + dy: mask.shape[0] - r + dy, r + dx: mask.shape[1] - r + dx]
    out[r:-r, r:-r] = core
    return out
