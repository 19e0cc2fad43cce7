"""Processes whose results are documents (models, tables), not rasters: run as jobs (or inline
for a sync execution) and described from their parameter models like the raster operations.

Each declares its parameter model, its outputs and the module-level job work function
`work(request, results_dir, progress) -> manifest`; `processes.execute.run_job_work` dispatches
to it by process id, so one job store and runner serve every process.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable

from pydantic import BaseModel

from .models.train import TrainParams


@dataclass(frozen=True)
class Context:
    """What preparing an analysis needs from the running service."""

    resolve: Callable[[str], Any]  # collection id -> source or virtual graph (graph.Resolver)
    lookup: Callable[[str], Any]  # collection id -> source
    features: Callable[[str], list[dict[str, Any]]]  # features collection id -> its features (KeyError)
    models_dir: Path
    max_pixels: int


@dataclass(frozen=True)
class Analysis:
    id: str
    title: str
    description: str
    params: type[BaseModel] | None  # None: inputs described by `inputs`
    outputs: dict[str, dict[str, Any]]
    prepare: str  # "module:function": prepare(inputs, Context) -> job request (raises 400-class errors)
    work: str  # "module:function": work(request, results_dir, progress) -> manifest
    keywords: tuple[str, ...] = ()
    rasters: dict[str, tuple[str, int]] | None = None  # raster inputs (title, minOccurs) when params is None

    def prepare_request(self, inputs: Any, ctx: Context) -> dict[str, Any]:
        return _load(self.prepare)(inputs, ctx)

    def work_function(self) -> Callable[..., dict]:
        return _load(self.work)


def _load(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


ANALYSES: MappingProxyType[str, Analysis] = MappingProxyType({a.id: a for a in (
    Analysis("train-model", "Train a classifier or clusterer",
             "Fit a random forest, histogram gradient boosting or k-nearest-neighbours classifier on labelled "
             "polygons (split by polygon for validation), or k-means on a region, over a deferred feature stack; "
             "stores the model as ONNX with a STAC MLM item and an accuracy report (see /models).",
             TrainParams, {"model": {"title": "The stored model's id and its accuracy report",
                                     "schema": {"type": "object", "contentMediaType": "application/json"}}},
             "processes.models.train:prepare", "processes.models.train:run_job_work", ("machine learning", "training", "classification", "k-means")),
    Analysis("segment-features", "Segments as features",
             "The segments of a region (a segment process) as GeoJSON polygons with per-segment pixel count, "
             "area and the mean of each band of an optional feature stack (`data`).",
             None, {"segments": {"title": "Segments (GeoJSON FeatureCollection, CRS84)",
                                 "schema": {"type": "object", "contentMediaType": "application/geo+json"}}},
             "processes.objects:prepare", "processes.objects:run_job_work", ("segmentation", "features", "objects"),
             {"segments": ("A segment process", 1), "data": ("Bands whose means each segment gets", 0)}),
)})
