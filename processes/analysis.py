"""Analysis processes: computations whose output is a table of features (zonal statistics, the
time series of one point or polygon) or a document (a trained model, segments as GeoJSON), beside
the raster operations of `ops`.

Each is declared once: id, title, a pydantic parameter model (extra="forbid", so a misspelled
input is a 400), `prepare` (inputs -> a self-contained JSON job request, validated in the web
worker) and either `run` (job request -> feature records, streamed) or `work` (job request ->
documents written to the job's results directory, with their `outputs`). Process descriptions,
sync and async execution and the job work function derive from the declaration.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterator, Literal, Mapping

import shapely
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from shapely.geometry import mapping

from .engine.errors import GraphError
from .engine.executor import Executor
from .engine.graph import Processes, Resolver
from .engine.sources import Source
from . import burned_area, objects
from .models import train
from .zonal import encode
from .zonal.request import CloudMaskParams, FeaturesResolver, ZonalParams, prepare as zonal_prepare, run as zonal_run
from .zonal.request import DEFAULT_DATA, Statistic

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Context:
    """What preparing a request may look up: raster collections (or workflows) and features."""

    resolve: Resolver
    lookup: Callable[[str], Source]
    features: FeaturesResolver
    models_dir: Path | None = None  # the folder train-model stores its models in; None: the job worker's own model store
    max_pixels: int | None = None  # the budget analyses that plan when prepared check (sync or job limit)
    processes: Processes | None = None  # published processes a raster input may nest (engine.graph)


class TimeseriesParams(BaseModel):
    """The time series of one point or polygon (a click on the map)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    geometry: dict[str, Any] | str = Field(..., description="A GeoJSON geometry or WKT (CRS84): a point or polygon")
    data: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_DATA),
                                 description="A one-band raster collection or process; default the NDVI of sentinel2")
    datetime: str | None = Field(None, description="Instant or interval of the scenes")
    cloud_mask: CloudMaskParams | Literal["auto", "none"] = Field("auto", description="'auto', 'none' or {band, classes}")
    statistics: tuple[Statistic, ...] = Field(("mean", "count"), min_length=1, max_length=16)


def geometry_input(value: dict[str, Any] | str) -> dict[str, Any]:
    try:
        g = shapely.from_wkt(value) if isinstance(value, str) else shapely.from_geojson(json.dumps(value))
    except (shapely.errors.GEOSException, ValueError, TypeError):
        raise GraphError("not a WKT or GeoJSON geometry", "geometry") from None
    if g is None or g.is_empty:
        raise GraphError("the geometry is empty", "geometry")
    if not all(math.isfinite(v) for v in g.bounds):
        raise GraphError("the geometry has non-finite coordinates", "geometry")
    return mapping(g)


def _timeseries_prepare(p: TimeseriesParams, ctx: Context) -> dict[str, Any]:
    feature = {"type": "Feature", "id": "query", "geometry": geometry_input(p.geometry), "properties": {}}
    z = ZonalParams(features=feature, data=p.data, datetime=p.datetime,
                    cloud_mask=p.cloud_mask, statistics=p.statistics)
    return zonal_prepare(z, ctx.resolve, ctx.lookup, ctx.features, "timeseries", ctx.processes)


@dataclass(frozen=True)
class Analysis:
    id: str
    title: str
    description: str
    params: type[BaseModel] | None  # None: `prepare` validates the raw inputs, described by `rasters`
    prepare: Callable[[Any, Context], dict[str, Any]]
    run: Callable[..., Iterator[dict[str, Any]]] | None = None  # run(request, executor, chunk, progress, max_pixels)
    keywords: tuple[str, ...] = ()
    # document analyses: work(request, results dir, progress, executor) -> manifest
    work: Callable[[dict, Path, Callable[[int, str], None], Executor | None], dict] | None = None
    outputs: dict[str, dict[str, Any]] | None = None  # a document analysis's outputs (None: the feature table)
    rasters: dict[str, tuple[str, int]] | None = None  # raster inputs (title, minOccurs) when params is None
    # more documents a table analysis's job writes beside it: (request, results dir) -> manifest entries
    extras: Callable[[Mapping[str, Any], Path], dict[str, dict[str, str]]] | None = None

    @property
    def documents(self) -> bool:
        """True when the results are documents (`work`), not a table of features (`run`)."""
        return self.work is not None


ANALYSES: Mapping[str, Analysis] = MappingProxyType({a.id: a for a in (
    Analysis("zonal-statistics", "Zonal statistics over time",
             "Per feature and date: coverage-weighted statistics (exact fractional pixel coverage like exactextract, "
             "or pixel centres) of any raster collection or workflow (the NDVI of Sentinel-2 by default), with "
             "cloudy pixels removed; dates without a clear pixel are null, the valid fraction is always given.",
             ZonalParams, lambda p, ctx: zonal_prepare(p, ctx.resolve, ctx.lookup, ctx.features, processes=ctx.processes), zonal_run,
             ("zonal statistics", "time series", "ndvi", "parcels")),
    Analysis("timeseries", "Time series of a point or polygon",
             "The statistics of one point (its pixel) or polygon over every scene of a datetime range.",
             TimeseriesParams, _timeseries_prepare, zonal_run, ("time series", "point", "query")),
    Analysis(burned_area.PID, "Burned area by site and year",
             "Per site (protected sites by default; any features with a CQL2 filter or bbox, or inline GeoJSON) and "
             "fire year: burned hectares by USGS severity class (the burn-severity workflow at native resolution, "
             "equal-area hectares), the share of the site burned, the area burned again after an earlier year of "
             "the range, and the share of the site that could be assessed.",
             burned_area.BurnedAreaParams, burned_area.prepare, burned_area.run,
             ("fire", "burned area", "protected sites", "zonal statistics"), extras=burned_area.perimeters),
    Analysis("train-model", "Train a classifier or clusterer",
             "Fit a random forest, histogram gradient boosting or k-nearest-neighbours classifier on labelled "
             "polygons (split by polygon for validation), or k-means on a region, over a deferred feature stack; "
             "stores the model as ONNX with a STAC MLM item and an accuracy report (see /models).",
             train.TrainParams, train.prepare, keywords=("machine learning", "training", "classification", "k-means"),
             work=train.run_job_work, outputs={"model": {
                 "title": "The stored model's id and its accuracy report",
                 "schema": {"type": "object", "contentMediaType": "application/json"}}}),
    Analysis("segment-features", "Segments as features",
             "The segments of a region (a segment process) as GeoJSON polygons with per-segment pixel count, "
             "area and the mean of each band of an optional feature stack (`data`).",
             None, objects.prepare, keywords=("segmentation", "features", "objects"), work=objects.run_job_work,
             outputs={"segments": {"title": "Segments (GeoJSON FeatureCollection, CRS84)",
                                   "schema": {"type": "object", "contentMediaType": "application/geo+json"}}},
             rasters={"segments": ("A segment process", 1), "data": ("Bands whose means each segment gets", 0)}),
)})


def parse(pid: str, inputs: Any, ctx: Context) -> dict[str, Any]:
    """Validated job request of an analysis execution's `inputs` (GraphError naming the input)."""
    a = ANALYSES[pid]
    if not isinstance(inputs, Mapping):
        raise GraphError("'inputs' must be an object", pid)
    if a.params is None:
        return a.prepare(inputs, ctx)
    inputs = {k: v["value"] if isinstance(v, Mapping) and set(v) == {"value"} and k != "features" else v
              for k, v in inputs.items()}
    try:
        params = a.params(**inputs)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise GraphError(err["msg"], f"{pid}.inputs.{loc}" if loc else pid) from None
    return a.prepare(params, ctx)


def start(pid: str, request: Mapping[str, Any], executor: Executor, chunk: int = 1024,
          max_pixels: int | None = None, progress: Progress | None = None) -> Iterator[dict[str, Any]]:
    """Plan now (errors and the pixel budget surface before any output), compute lazily."""
    a = ANALYSES[pid]
    if a.run is None:
        raise GraphError(f"'{pid}' produces documents, not a feature table", pid)
    return a.run(request, executor, chunk, progress, max_pixels)


def run_job_work(process_id: str, request: dict, results_dir: Path, progress: Callable[[int, str], None],
                 executor: Executor) -> dict:
    """Job work: chunks run as tasks of the executor; writes the requested encoding and the GeoJSON
    that the job's features collection serves (a document analysis writes its own documents)."""
    a = ANALYSES[process_id]
    if a.work is not None:
        return a.work(request, results_dir, progress, executor)
    media = request.get("media_type", encode.GEOJSON)
    progress(1, "planning")
    records = list(ANALYSES[process_id].run(
        request, executor, request.get("chunk", 1024),
        lambda done, total: progress(2 + 97 * done // max(total, 1), f"{done} of {total} chunks"), None))
    manifest = {}
    (results_dir / "features.geojson").write_bytes(encode.geojson(records))
    manifest["features"] = {"file": "features.geojson", "mediaType": encode.GEOJSON}
    if media != encode.GEOJSON:
        name = f"result.{encode.EXTENSIONS[media]}"
        (results_dir / name).write_bytes(encode.encode(records, media))
        manifest["result"] = {"file": name, "mediaType": media}
    else:
        manifest["result"] = manifest["features"]
    if a.extras is not None:
        manifest |= a.extras(request, results_dir)
    progress(100, "done")
    return manifest


__all__ = ["ANALYSES", "Analysis", "Context", "parse", "start", "run_job_work"]
