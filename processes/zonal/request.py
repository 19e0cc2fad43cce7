"""The `zonal-statistics` inputs: parameter model, and its translation into a self-contained job
request (selected features, the value graph, the collections, dates and statistics).

Features are `{"collection": "parcels", "bbox": [...], "datetime": ..., "filter": "...",
"filter-lang": ...}` (any features collection, CQL2 checked against its queryables) or inline
GeoJSON. The raster is any collection or deferred workflow (`{"process": ...}`) of one band;
the default is the NDVI of Sentinel-2. The cloud mask removes scene-classification classes
(Sentinel-2 SCL by default, when the data has that band).
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field

from ..engine.errors import BudgetExceeded, GraphError, UnknownCollection
from ..engine.executor import Executor
from ..engine.graph import Processes, Resolver, canonical, collections_of, last_segment, output_bands, parse_node
from ..engine.sources import CloudMask as SourceCloudMask, Source, source_from_dict
from ..engine.vectors import InlineFeatures, VectorSource
from ..filters import parse_filter
from .engine import CloudMask, Spec, ZonalError, plan, results, scene_dates

Statistic = Literal["mean", "median", "std", "min", "max", "count", "sum", "sum_ha", "area"]
DEFAULT_DATA = {"process": "normalized_difference",
                "inputs": {"data": {"collection": "sentinel2"}, "a": "B08", "b": "B04", "name": "ndvi"}}
SCL_CLOUDS = SourceCloudMask().values  # the engine's Sentinel-2 SCL classes of unusable pixels
FEATURE_KEYS = {"collection", "href", "bbox", "datetime", "filter", "filter-lang"}
FeaturesResolver = Callable[[str], VectorSource]


class CloudMaskParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    band: str = Field("SCL", min_length=1, description="Band classifying each scene's pixels")
    classes: tuple[float, ...] = Field(SCL_CLOUDS, max_length=255,
                                       description="Classes removed (SCL: 0 no data, 1 saturated, 3 shadow, 8/9 cloud, 10 cirrus)")


class ZonalParams(BaseModel):
    """Statistics of a raster time series over features, per feature and date."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    features: dict[str, Any] = Field(..., description="A features collection `{\"collection\": id, \"filter\": "
                                     "cql2, \"bbox\": [...], \"datetime\": ...}` or inline GeoJSON")
    data: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_DATA),
                                 description="A one-band raster: a collection or a (nested) process; default "
                                             "the NDVI of sentinel2")
    datetime: str | None = Field(None, description="Instant or interval 'start/end' ('..' open) of the scenes")
    cloud_mask: CloudMaskParams | Literal["auto", "none"] = Field(
        "auto", description="Classes to remove; 'auto': Sentinel-2 SCL clouds when the data has SCL")
    statistics: tuple[Statistic, ...] = Field(("mean", "std", "min", "max", "count"), min_length=1, max_length=16)
    percentiles: tuple[float, ...] = Field((), max_length=16, description="Percentiles (0-100), weighted")
    coverage: Literal["exact", "centers"] = Field(
        "exact", description="'exact': fractional pixel coverage (exactextract); 'centers': pixels whose centre is inside")


def select_features(value: Mapping[str, Any], features: FeaturesResolver, where: str = "features") -> list[dict]:
    """The features of a `features` input: a collection selection or inline GeoJSON."""
    if "value" in value and len(value) == 1:
        value = value["value"]
    if isinstance(value, Mapping) and ("collection" in value or "href" in value):
        unknown = sorted(set(value) - FEATURE_KEYS)
        if unknown:
            raise ZonalError(f"{where}: unknown key(s) {', '.join(unknown)} (use {', '.join(sorted(FEATURE_KEYS))})")
        cid = last_segment(str(value.get("collection") or value.get("href")), "collections")
        try:
            source = features(cid)
        except KeyError:
            raise UnknownCollection(f"unknown features collection '{cid}'", where) from None
        flt = parse_filter(value["filter"], value.get("filter-lang")) if value.get("filter") is not None else None
        bbox = value.get("bbox")
        if bbox is not None and not (isinstance(bbox, list) and all(isinstance(v, (int, float)) for v in bbox)):
            raise ZonalError(f"{where}.bbox must be a list of numbers (CRS84)")
        try:
            return source.select(bbox, value.get("datetime"), flt)
        except ValueError as e:
            raise ZonalError(f"{where}: {e}") from None
    try:
        return InlineFeatures.from_geojson(value).select()
    except ValueError as e:
        raise ZonalError(f"{where}: {e}") from None


def _mask(p: ZonalParams, cids: list[str], lookup: Callable[[str], Source]) -> CloudMask | None:
    if p.cloud_mask == "none":
        return None
    m = CloudMaskParams() if p.cloud_mask == "auto" else p.cloud_mask
    for cid in cids:
        if m.band in lookup(cid).band_names:
            return CloudMask(m.band, m.classes, cid)
    if p.cloud_mask == "auto":
        return None
    raise ZonalError(f"cloud_mask: no collection of the data has the band '{m.band}'")


def quantiles(p: ZonalParams) -> tuple[tuple[str, float], ...]:
    out = [("median", 0.5)] if "median" in p.statistics else []
    for q in p.percentiles:
        if not 0 <= q <= 100:
            raise ZonalError(f"percentiles: {q} is not between 0 and 100")
        out.append((f"p{q:g}", q / 100))
    return tuple(out)


def prepare(p: ZonalParams, resolve: Resolver, lookup: Callable[[str], Source],
            features: FeaturesResolver, pid: str = "zonal-statistics", processes: Processes | None = None) -> dict[str, Any]:
    """A JSON job request holding everything the computation needs (the features as selected now;
    `processes`: published processes the data may nest)."""
    node = parse_node(p.data, resolve, f"{pid}.inputs.data", processes)
    bands = output_bands(node, resolve)
    if len(bands) != 1:
        raise GraphError(f"the data must have one band, it has {len(bands)} {list(bands)}: pick one with "
                         "'bands' or compute one (e.g. normalized_difference)", f"{pid}.inputs.data")
    cids = sorted(collections_of(node), key=lambda c: (not lookup(c).is_series, c))
    mask = _mask(p, cids, lookup)
    dates = scene_dates(node, lookup, p.datetime)
    feats = select_features(p.features, features, f"{pid}.inputs.features")
    colls = {c: lookup(c).to_dict() for c in sorted(set(cids) | ({mask.collection} if mask else set()))}
    return {"features": feats, "graph": canonical(node), "grid": cids[0], "collections": colls,
            "dates": list(dates), "mask": None if mask is None else [mask.band, list(mask.classes), mask.collection],
            "statistics": list(p.statistics), "quantiles": [list(q) for q in quantiles(p)], "coverage": p.coverage}


def spec_of(request: Mapping[str, Any], colls: Mapping[str, Source]) -> Spec:
    node = parse_node(request["graph"], colls.__getitem__)
    m = request["mask"]
    return Spec(node, tuple(request["dates"]), CloudMask(m[0], tuple(m[1]), m[2]) if m else None,
                tuple(request["statistics"]), tuple((n, q) for n, q in request["quantiles"]), request["coverage"])


def run(request: Mapping[str, Any], executor: Executor, chunk: int = 1024,
        progress: Callable[[int, int], None] | None = None, max_pixels: int | None = None) -> Iterator[dict[str, Any]]:
    """Feature results of a prepared request, in completion order (see engine.results). Planning
    happens now, so bad inputs and an exceeded pixel budget raise before anything is produced."""
    colls = {k: source_from_dict(v) for k, v in request["collections"].items()}
    if not request["features"]:
        return iter(())
    p = plan(request["features"], spec_of(request, colls), request["grid"], colls, chunk)
    if max_pixels is not None:
        reads = sum(t.grid.width * t.grid.height for t in p.tasks) * len(p.spec.dates)
        if reads > max_pixels:
            raise BudgetExceeded(f"the request reads about {reads:,} pixels; the limit of a synchronous execution is "
                                 f"{max_pixels:,}. Execute it asynchronously (Prefer: respond-async), or select "
                                 "fewer features or dates.")
    return results(p, executor, progress)
