"""Segment mean: each pixel gets the mean of every band over its segment (object statistics).

Object-based classification as a deferred graph: classify(model, segment_mean(stack, segment(image)))
classifies segments, not pixels, tile by tile. Segments are pixel-aligned, so a segment's exact
zonal statistics are plain sums over its pixels (coverage weights 0 or 1): one bincount per band.
The mean over a window equals the one-piece mean for every segment lying wholly within the halo,
the same condition under which `segment` labels agree (default halo 64 px).
"""
from __future__ import annotations

import numpy as np
from pydantic import Field

from ._base import Input, Operation, Params, Raster


class SegmentMeanParams(Params):
    halo: int = Field(64, ge=0, le=512, description="Context pixels read around each tile: segments up to this "
                                                    "far beyond a tile border get their full mean")


def segment_mean(inputs: dict[str, Raster], params: SegmentMeanParams) -> Raster:
    r, seg = inputs["data"], inputs["segments"]
    valid = r.mask & seg.mask & np.isfinite(r.data).all(0)
    _, idx = np.unique(seg.data[0], return_inverse=True)
    idx = idx.reshape(seg.shape)
    flat, ok = idx.ravel(), valid.ravel()
    count = np.bincount(flat[ok], minlength=idx.max() + 1)
    out = np.zeros_like(r.data)
    for b in range(r.data.shape[0]):
        sums = np.bincount(flat[ok], r.data[b].ravel()[ok].astype(np.float64), minlength=len(count))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[b] = (sums / count)[idx]
    return r.with_data(out, r.band_names, valid)


OPERATION = Operation(
    id="segment_mean", title="Segment mean (object statistics)",
    description="Mean of each band of `data` over each segment of `segments` (from the segment process).",
    inputs={"data": Input("Bands to average (e.g. a feature stack)"), "segments": Input("Segment labels", bands=1)},
    params=SegmentMeanParams, kernel=segment_mean, halo=lambda p: p.halo, output_bands=lambda b, p: b["data"],
    keywords=("segmentation", "object-based", "zonal statistics"),
)
