"""Segment: superpixels/objects of an image by SLIC or Felzenszwalb (scikit-image), per tile with a halo.

Each window (a tile or chunk plus the halo) is segmented on its own; two things make windows agree
where they overlap, so a segment crossing a tile border keeps one label:

- Labels are not numbered per window but named after the segment's first pixel (row-major) on the
  grid's global lattice (`Raster.origin`), mixed into 24 bits (exact in float32): a segment lying
  wholly inside two windows, and segmented alike in both, gets the same label in both.
- SLIC seeds lie on a global lattice: the window is padded so its seed grid (`size` pixels apart)
  is the same in every window, and the value range SLIC rescales by is pinned to `value_range`
  (scikit-image rescales each image by its own min/max, which differs between windows).

What still differs from one-piece segmentation: segments reaching farther than the halo from a
border, and the few a SLIC iteration or a Felzenszwalb merge near the window edge decides
differently. The halo (default 6 x size for SLIC, 64 px for Felzenszwalb) bounds the first;
tests measure both on a 2x2 block of chunks against one piece.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator
from skimage.segmentation import felzenszwalb, slic

from ._base import Input, Operation, Params, Raster

M1, M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9)


class SegmentParams(Params):
    method: Literal["slic", "felzenszwalb"] = Field("slic", description="Segmentation algorithm")
    size: int = Field(16, ge=4, le=128, description="SLIC: seed spacing in pixels (about the segments' side)")
    compactness: float = Field(10.0, gt=0, le=1000, description="SLIC: weight of space against colour")
    scale: float = Field(1.0, gt=0, le=1e6, description="Felzenszwalb: larger gives larger segments")
    min_size: int = Field(20, ge=1, le=100_000, description="Felzenszwalb: smallest segment in pixels")
    sigma: float = Field(0.0, ge=0, le=10, description="Gaussian smoothing before segmenting (pixels)")
    value_range: tuple[float, float] = Field((0.0, 1.0), description="Values are clipped to this range "
                                             "(SLIC's colour distance is relative to it), e.g. reflectance 0..1")
    halo: int | None = Field(None, ge=0, le=512, description="Context pixels read around each tile; "
                             "default 6 x size (SLIC) or 64 (Felzenszwalb)")

    @model_validator(mode="after")
    def _range(self) -> "SegmentParams":
        if not self.value_range[0] < self.value_range[1]:
            raise ValueError("value_range must be [low, high] with low < high")
        return self


def _halo(p: SegmentParams) -> int:
    if p.halo is not None:
        return p.halo
    return 6 * p.size if p.method == "slic" else 64


def global_labels(local: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    """Label each segment by a 24-bit mix of the global (row, col) of its first pixel."""
    ids, first, inverse = np.unique(local.ravel(), return_index=True, return_inverse=True)
    rows, cols = np.divmod(first, local.shape[1])
    gr = (rows + origin[0]).astype(np.int64).view(np.uint64)
    gc = (cols + origin[1]).astype(np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        h = gr * M1 ^ gc * M2
        h ^= h >> np.uint64(31)
        h *= M2
        h ^= h >> np.uint64(29)
    codes = (h >> np.uint64(40)).astype(np.float32) + 1  # 1 .. 2^24, exact in float32
    return codes[inverse].reshape(local.shape)


def _slic(x: np.ndarray, p: SegmentParams, origin: tuple[int, int]) -> np.ndarray:
    s = p.size
    rows, cols = x.shape[:2]
    top, left = origin[0] % s, origin[1] % s
    bottom = (-(top + rows)) % s + s  # whole seed cells, and a spare row of cells for the pins
    right = (-(left + cols)) % s
    padded = np.pad(x, ((top, bottom), (left, right), (0, 0)), mode="edge")
    lo, hi = p.value_range
    padded[-1, 0, :], padded[-1, -1, :] = lo, hi  # pin SLIC's min/max rescaling to value_range
    n = (padded.shape[0] // s) * (padded.shape[1] // s)
    labels = slic(padded, n_segments=n, compactness=p.compactness, sigma=p.sigma, channel_axis=-1,
                  start_label=1, enforce_connectivity=True)
    return labels[top:top + rows, left:left + cols]


def segment(inputs: dict[str, Raster], params: SegmentParams) -> Raster:
    r = inputs["data"]
    lo, hi = params.value_range
    valid = r.mask & np.isfinite(r.data).all(0)
    x = np.clip(np.where(valid, r.data, lo), lo, hi).astype(np.float64).transpose(1, 2, 0)
    origin = r.origin or (0, 0)
    if params.method == "slic":
        local = _slic(x, params, origin)
    else:
        scaled = (x - lo) / (hi - lo)
        local = felzenszwalb(scaled, scale=params.scale, sigma=params.sigma, min_size=params.min_size, channel_axis=-1)
    return r.with_data(global_labels(local, origin)[None], ("segment",), valid)


OPERATION = Operation(
    id="segment", title="Image segmentation",
    description="Segments (superpixels) by SLIC or Felzenszwalb; each segment's label is the same on every tile.",
    inputs={"data": Input("Image to segment (all bands are used)")}, params=SegmentParams, kernel=segment,
    halo=_halo, output_bands=lambda b, p: ("segment",), keywords=("segmentation", "slic", "felzenszwalb", "objects"),
)
