"""Classify: apply a trained classifier (a stored ONNX model, by id) to each pixel's features.

Deferred like every operation, so a class map is computed only for the tiles viewed (Earth
Engine's lazy `classify()`). The input's bands must be the model's inputs, same names and order
(checked when the request is parsed, a 400 naming both lists), so a model trained on one feature
stack is never silently applied to another. `output=probabilities` gives one band per class.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from . import _predict
from ._base import Input, Operation, Params, Raster


class ClassifyParams(Params):
    model: str = Field(..., min_length=1, max_length=200, description="Id of a model listed at /models")
    output: Literal["class", "probabilities"] = Field(
        "class", description="'class': the class code of each pixel; 'probabilities': one band per class")


def _model(p: ClassifyParams):
    return _predict.model_of(p.model, "classifier")


def _bands_out(bands_in, p: ClassifyParams) -> tuple[str, ...]:
    if p.output == "class":
        return ("class",)
    return tuple(f"p_{c.name}" for c in _model(p).classes)


def _check(bands_in, p: ClassifyParams) -> None:
    _predict.check_bands(_model(p), bands_in["data"])


def classify(inputs: dict[str, Raster], params: ClassifyParams) -> Raster:
    r = inputs["data"]
    out, valid = _predict.apply(r, _model(params), params.output == "probabilities")
    return r.with_data(out, _bands_out({}, params), valid)


OPERATION = Operation(
    id="classify", title="Classify with a trained model",
    description="Class code (or class probabilities) of each pixel from a stored classifier applied to a feature stack.",
    inputs={"data": Input("Feature stack whose bands are the model's inputs")}, params=ClassifyParams,
    kernel=classify, output_bands=_bands_out, check=_check, halo=lambda p: _predict.halo(_model(p)),
    needs=lambda name, bands, p: _model(p).bands, keywords=("classification", "machine learning", "onnx"),
)
