"""Cluster: apply a fitted clusterer (k-means, stored as ONNX) to each pixel's features.

The clusterer is fitted once on a sample of a region (the `train-model` process) and only applied
here, so every tile gets the same clusters (fitting per tile would number and place them anew on
each tile). Output: the cluster number (1..k) of each pixel.
"""
from __future__ import annotations

from pydantic import Field

from . import _predict
from ._base import Input, Operation, Params, Raster


class ClusterParams(Params):
    model: str = Field(..., min_length=1, max_length=200, description="Id of a fitted clusterer listed at /models")


def _model(p: ClusterParams):
    return _predict.model_of(p.model, "clusterer")


def _check(bands_in, p: ClusterParams) -> None:
    _predict.check_bands(_model(p), bands_in["data"])


def cluster(inputs: dict[str, Raster], params: ClusterParams) -> Raster:
    r = inputs["data"]
    out, valid = _predict.apply(r, _model(params), False)
    return r.with_data(out, ("cluster",), valid)


OPERATION = Operation(
    id="cluster", title="Cluster with a fitted model",
    description="Cluster number of each pixel from a stored clusterer (k-means) applied to a feature stack.",
    inputs={"data": Input("Feature stack whose bands are the clusterer's inputs")}, params=ClusterParams,
    kernel=cluster, output_bands=lambda b, p: ("cluster",), check=_check,
    needs=lambda name, bands, p: _model(p).bands, keywords=("clustering", "k-means", "unsupervised"),
)
