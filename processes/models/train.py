"""The `train-model` process: fit a classifier (random forest, histogram gradient boosting,
k-nearest neighbours) on labelled polygons, or a k-means clusterer on a region, over a feature
stack that is itself a deferred graph; store it as ONNX with its STAC/MLM item and accuracy report.

`prepare` (in the web worker) checks everything that can be checked without reading pixels
(the stack graph, the labels, classes and polygon counts, the pixel budget) so bad requests are
400s, and freezes the selected features and collections into a job request. `run` (in a job
worker) evaluates the stack over the labelled area in chunks, draws the samples, splits them
by polygon, fits, converts, validates on the held-out polygons and stores the model atomically.
"""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

import numpy as np
import shapely
import sklearn
from pydantic import BaseModel, ConfigDict, Field

from ..engine.errors import GraphError
from ..engine.executor import Executor
from ..engine.graph import canonical, collections_of, output_bands, parse_node
from ..engine.grid import Grid
from ..engine.reader import dataset_info
from ..engine.region import check_budget, evaluate_region
from ..engine.sources import Source, source_from_dict
from ..engine.vectors import InlineFeatures
from ..ops import _models
from ..ops._models import ModelClass
from ..zonal.request import FeaturesResolver, select_features as zonal_select
from . import samples as S
from .convert import to_onnx_bytes
from .metrics import accuracy_report
from .mlm import build_item, colour, properties
from .store import ModelStore

Method = Literal["random_forest", "gradient_boosting", "knn", "kmeans"]
ARCHITECTURE = {"random_forest": "RandomForestClassifier", "gradient_boosting": "HistGradientBoostingClassifier",
                "knn": "StandardScaler+KNeighborsClassifier", "kmeans": "KMeans"}


class TrainParams(BaseModel):
    """Inputs of `train-model` (see each field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    method: Method = Field("random_forest", description="Classifier, or 'kmeans' for an unsupervised clusterer")
    data: dict[str, Any] = Field(..., description="The feature stack: a collection or a (nested) process, "
                                 "e.g. a stack of NDVI composites of several dates")
    features: dict[str, Any] | None = Field(None, description="Labelled polygons: {\"collection\": id, \"bbox\": [...], "
                                            "\"filter\": CQL2, \"datetime\": ...} or inline GeoJSON (classifiers)")
    label: str = Field("crop_type", min_length=1, description="Feature property holding each polygon's class")
    labels: dict[str, Any] | None = Field(None, description="Instead of polygons: a one-band class raster (e.g. "
                                          "{\"collection\": \"landcover\"}) whose pixels in the bbox are the samples")
    class_names: dict[str, str] | None = Field(None, description="Names of the raster's class values, e.g. "
                                               "{\"1\": \"forest\"}; default 'class <value>'")
    block: int = Field(32, ge=4, le=1024, description="With a class raster: the side in pixels of the square blocks "
                                                      "held out together for validation (spatially separate samples)")
    bbox: tuple[float, float, float, float] | None = Field(None, description="Region (CRS84): kmeans samples it; "
                                                           "classifiers keep the features inside it")
    resolution: float | None = Field(None, gt=0, description="Sampling pixel size in the stack's CRS units; "
                                     "default the data's native resolution")
    max_samples: int = Field(20_000, ge=100, le=500_000, description="Training pixels at most, shared equally by the classes")
    max_validation: int = Field(20_000, ge=100, le=500_000, description="Validation pixels at most")
    validation_fraction: float = Field(0.3, gt=0, lt=1, description="Share of each class's polygons held out")
    min_samples: int = Field(20, ge=1, description="Fewest pixels a class may have")
    trees: int = Field(100, ge=1, le=1000, description="Trees (random forest) or boosting iterations")
    max_depth: int | None = Field(None, ge=1, le=64, description="Tree depth limit")
    neighbours: int = Field(5, ge=1, le=200, description="k of k-nearest neighbours")
    clusters: int = Field(8, ge=2, le=64, description="k of k-means")
    seed: int = Field(0, ge=0, description="Random seed (sampling, split, fitting)")
    name: str | None = Field(None, min_length=1, max_length=100, description="Title of the model")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "model"


def select_features(value: Mapping[str, Any], features: FeaturesResolver, bbox) -> list[dict[str, Any]]:
    """The labelled polygons: zonal's selection (a features collection with its own bbox, datetime
    and CQL2 filter, or inline GeoJSON), cut by the training bbox where the selection gives none."""
    where = "train-model.inputs.features"
    if isinstance(value, Mapping) and "value" in value and len(value) == 1:
        value = value["value"]
    if bbox is None or not isinstance(value, Mapping) or value.get("bbox") is not None:
        return zonal_select(value, features, where)
    if "collection" in value or "href" in value:
        return zonal_select(dict(value) | {"bbox": list(bbox)}, features, where)
    try:
        return InlineFeatures.from_geojson(value).select(list(bbox))
    except ValueError as e:
        raise GraphError(str(e), where) from None


def _grid(node, lookup: Callable[[str], Source], bounds84, resolution: float | None) -> Grid:
    """A grid over `bounds84` in the CRS of the stack's first collection, at its native resolution
    (or `resolution`), aligned to that resolution."""
    from rasterio.warp import transform_bounds

    cid = sorted(collections_of(node))[0]
    info = dataset_info(lookup(cid).select()[0].assets[0].href)
    res = resolution or abs(info.levels[0].transform[0])
    w, s, e, n = transform_bounds("OGC:CRS84", info.crs, *bounds84, densify_pts=21)
    w, s = np.floor(w / res) * res, np.floor(s / res) * res
    e, n = np.ceil(e / res) * res, np.ceil(n / res) * res
    width, height = int(round((e - w) / res)), int(round((n - s) / res))
    if width * height > 64_000_000:
        raise GraphError(f"the training area would be {width} x {height} pixels; use a coarser resolution "
                         "or fewer/closer features", "train-model.inputs.resolution")
    return Grid.from_bounds(info.crs, (w, s, e, n), width, height)


def prepare(p: TrainParams, ctx) -> dict[str, Any]:
    """A self-contained job request (`ctx`: analysis.Context), or a 400-class error naming the problem."""
    resolve, lookup, features = ctx.resolve, ctx.lookup, ctx.features
    node = parse_node(p.data, resolve, "train-model.inputs.data", ctx.processes)
    bands = output_bands(node, resolve)
    request: dict[str, Any] = {"params": p.model_dump(mode="json"), "graph": canonical(node), "bands": list(bands),
                               "collections": {c: lookup(c).to_dict() for c in sorted(collections_of(node))},
                               "store": None if ctx.models_dir is None else str(ctx.models_dir),
                               "model_id": f"{_slug(p.name or p.method)}-{uuid.uuid4().hex[:8]}"}
    if p.method == "kmeans":
        if p.bbox is None:
            raise GraphError("kmeans needs a bbox: the region whose pixels it is fitted on", "train-model.inputs.bbox")
        grid = _grid(node, lookup, p.bbox, p.resolution)
        request["classes"] = [[k + 1, f"cluster {k + 1}", colour(k)] for k in range(p.clusters)]
    elif p.labels is not None:
        if p.features is not None:
            raise GraphError("give labelled 'features' or a 'labels' raster, not both", "train-model.inputs.labels")
        if p.bbox is None:
            raise GraphError("a 'labels' raster needs a bbox: the region whose pixels are sampled", "train-model.inputs.bbox")
        labels = parse_node(p.labels, resolve, "train-model.inputs.labels")
        if len(output_bands(labels, resolve)) != 1:
            raise GraphError("the labels raster must have one band (class values)", "train-model.inputs.labels")
        grid = _grid(node, lookup, p.bbox, p.resolution)
        check_budget([labels], grid, ctx.max_pixels, lookup)
        request["labels"] = canonical(labels)
        request["collections"] |= {c: lookup(c).to_dict() for c in sorted(collections_of(labels))}
        request["classes"] = None  # the raster's own values, found when it is read
    else:
        if p.features is None:
            raise GraphError("a classifier needs labelled 'features' or a 'labels' raster", "train-model.inputs.features")
        feats = select_features(p.features, features, p.bbox)
        values = sorted({str(v) for f in feats if (v := (f.get("properties") or {}).get(p.label)) is not None})
        if not values:
            raise S.SampleError(f"no feature has the label property '{p.label}'")
        codes = {v: i + 1 for i, v in enumerate(values)}
        bounds = shapely.total_bounds([shapely.from_geojson(json.dumps(f["geometry"])) for f in feats if f.get("geometry")])
        grid = _grid(node, lookup, tuple(bounds), p.resolution)
        lab = S.labelled(feats, p.label, codes, grid.crs)
        S.check_counts(S.interior_cells(lab, grid), lab, {c: v for v, c in codes.items()}, p.min_samples)
        request["features"] = feats
        request["classes"] = [[c, v, colour(c - 1)] for v, c in codes.items()]
    check_budget([node], grid, ctx.max_pixels, lookup)
    request["grid"] = {"crs": grid.crs, "bounds": list(grid.bounds), "width": grid.width, "height": grid.height}
    return request


def _estimator(p: TrainParams):
    from sklearn.cluster import KMeans
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if p.method == "random_forest":
        return RandomForestClassifier(p.trees, max_depth=p.max_depth, n_jobs=1, random_state=p.seed)
    if p.method == "gradient_boosting":
        return HistGradientBoostingClassifier(max_iter=p.trees, max_depth=p.max_depth, random_state=p.seed)
    if p.method == "knn":
        return make_pipeline(StandardScaler(), KNeighborsClassifier(p.neighbours))
    return KMeans(p.clusters, n_init=4, random_state=p.seed)


def run(request: Mapping[str, Any], progress: Callable[[int, str], None] = lambda pct, msg: None,
        executor: Executor | None = None) -> dict[str, Any]:
    """Train, validate and store; returns {"id", "report"}. The feature stack (and a labels raster)
    is evaluated in chunks on the executor's workers (None: here)."""
    p = TrainParams(**request["params"])
    colls = {k: source_from_dict(v) for k, v in request["collections"].items()}
    node = parse_node(request["graph"], colls.__getitem__)
    g = request["grid"]
    grid = Grid.from_bounds(g["crs"], tuple(g["bounds"]), g["width"], g["height"])
    classes = tuple(ModelClass(int(v), str(n), str(c)) for v, n, c in request["classes"] or ())
    progress(5, "evaluating the feature stack")
    chunk = request.get("chunk", 1024)
    (stack,) = evaluate_region([node], grid, colls.__getitem__, executor, chunk=chunk)
    x = stack.data.reshape(stack.data.shape[0], -1).T
    valid = stack.mask.ravel() & np.isfinite(x).all(1)
    if request.get("labels") is not None:  # classes and sample groups come from the class raster
        (raster,) = evaluate_region([parse_node(request["labels"], colls.__getitem__)], grid, colls.__getitem__,
                                    executor, chunk=chunk)
        lab, cells, classes, dropped = S.raster_groups(raster.data[0], raster.mask & valid.reshape(raster.mask.shape),
                                                       p.block, p.class_names or {}, p.min_samples)
        S.check_counts(cells, lab, {c.value: c.name for c in classes}, p.min_samples)
    rng = np.random.default_rng(p.seed)
    progress(50, "drawing samples")
    if p.method == "kmeans":
        cells = np.flatnonzero(valid)
        if len(cells) < p.clusters * p.min_samples:
            raise S.SampleError(f"too few samples: {len(cells)} valid pixels in the bbox for {p.clusters} clusters")
        take = rng.choice(cells, min(len(cells), p.max_samples), replace=False)
        est = _estimator(p).fit(x[take])
        report = {"inertia": float(est.inertia_), "samples": int(len(take)),
                  "cluster_sizes": np.bincount(est.labels_, minlength=p.clusters).tolist()}
    else:
        if request.get("labels") is None:
            codes = {c.name: c.value for c in classes}
            lab = S.labelled(request["features"], p.label, codes, grid.crs)
            cells = S.interior_cells(lab, grid)
        held = S.split_polygons(lab.labels, p.validation_fraction, rng)
        tc, ty, tg = S.draw(cells, lab.labels, ~held, valid, p.max_samples // len(classes), rng)
        vc, vy, vg = S.draw(cells, lab.labels, held, valid, p.max_validation // len(classes), rng)
        names = {c.value: c.name for c in classes}
        for v in names:
            if (ty == v).sum() < p.min_samples:
                raise S.SampleError(f"too few samples: class '{names[v]}' has {(ty == v).sum()} valid training "
                                    f"pixels (at least {p.min_samples}); clouds or no data may cover its polygons")
        progress(60, f"fitting on {len(tc)} pixels")
        est = _estimator(p).fit(x[tc], ty)
        pred = est.predict(x[vc])
        report = accuracy_report(vy, pred, classes, len(np.unique(vg)),
                                 {"pixels": int(len(tc)), "polygons": int(len(np.unique(tg)))})
        report["held_out_polygons"] = [lab.ids[i] for i in np.flatnonzero(held)]
        if request.get("labels") is not None:
            report["dropped_classes"] = dropped  # too rare in the bbox to train and validate on
    progress(90, "storing the model")
    onnx = to_onnx_bytes(est, x.shape[1])
    kind = "clusterer" if p.method == "kmeans" else "classifier"
    props = properties(p.name or request["model_id"], ARCHITECTURE[p.method], kind, request["bands"], classes,
                       "scikit-learn", sklearn.__version__, len(onnx), None)
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    from rasterio.warp import transform_bounds

    bbox = transform_bounds(grid.crs, "OGC:CRS84", *grid.bounds, densify_pts=21)
    extra = {"title": p.name or f"{ARCHITECTURE[p.method]} ({request['model_id']})",
             "geodeferred:training": {"params": request["params"], "graph": request["graph"]}}
    outputs = {"label": "label", "scores": "scores" if p.method == "kmeans" else "probabilities"}
    if "overall_accuracy" in report:
        extra["geodeferred:accuracy"] = {"overall_accuracy": report["overall_accuracy"], "kappa": report["kappa"]}
    item = build_item(request["model_id"], props, kind, bbox, created, extra, outputs=outputs)
    store = ModelStore(request["store"]) if request["store"] else _models.provider()  # None: the worker's own store
    store.put(request["model_id"], onnx, item, report)
    return {"id": request["model_id"], "report": report}


def run_job_work(request: dict, results_dir: Path, progress: Callable[[int, str], None],
                 executor: Executor | None = None) -> dict:
    """Job work: train and write the model reference and report as the job's one JSON result."""
    out = run(request, progress, executor)
    (results_dir / "model.json").write_text(json.dumps(out))
    progress(100, "done")
    return {"model": {"file": "model.json", "mediaType": "application/json"}}


