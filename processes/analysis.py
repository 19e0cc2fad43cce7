"""Analysis processes: computations over features whose output is a table of features (zonal
statistics, the time series of one point or polygon), beside the raster operations of `ops`.

Each is declared once: id, title, a pydantic parameter model (extra="forbid", so a misspelled
input is a 400), `prepare` (inputs -> a self-contained JSON job request, validated in the web
worker) and `run` (job request -> feature records, streamed). Process descriptions, sync and async
execution and the job work function derive from the declaration.
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
from .engine.graph import Resolver
from .engine.sources import Source
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
    return zonal_prepare(z, ctx.resolve, ctx.lookup, ctx.features, "timeseries")


@dataclass(frozen=True)
class Analysis:
    id: str
    title: str
    description: str
    params: type[BaseModel]
    prepare: Callable[[Any, Context], dict[str, Any]]
    run: Callable[..., Iterator[dict[str, Any]]]  # run(request, executor, chunk, progress)
    keywords: tuple[str, ...] = ()


ANALYSES: Mapping[str, Analysis] = MappingProxyType({a.id: a for a in (
    Analysis("zonal-statistics", "Zonal statistics over time",
             "Per feature and date: coverage-weighted statistics (exact fractional pixel coverage like exactextract, "
             "or pixel centres) of any raster collection or workflow (the NDVI of Sentinel-2 by default), with "
             "cloudy pixels removed; dates without a clear pixel are null, the valid fraction is always given.",
             ZonalParams, lambda p, ctx: zonal_prepare(p, ctx.resolve, ctx.lookup, ctx.features), zonal_run,
             ("zonal statistics", "time series", "ndvi", "parcels")),
    Analysis("timeseries", "Time series of a point or polygon",
             "The statistics of one point (its pixel) or polygon over every scene of a datetime range.",
             TimeseriesParams, _timeseries_prepare, zonal_run, ("time series", "point", "query")),
)})


def parse(pid: str, inputs: Any, ctx: Context) -> dict[str, Any]:
    """Validated job request of an analysis execution's `inputs` (GraphError naming the input)."""
    a = ANALYSES[pid]
    if not isinstance(inputs, Mapping):
        raise GraphError("'inputs' must be an object", pid)
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
    return ANALYSES[pid].run(request, executor, chunk, progress, max_pixels)


def run_job_work(process_id: str, request: dict, results_dir: Path, progress: Callable[[int, str], None],
                 executor: Executor) -> dict:
    """Job work: chunks run as tasks of the executor; writes the requested encoding and the GeoJSON
    that the job's features collection serves."""
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
    progress(100, "done")
    return manifest


__all__ = ["ANALYSES", "Analysis", "Context", "parse", "start", "run_job_work"]
