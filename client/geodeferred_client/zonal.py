"""Zonal statistics of a lazy image over features: the service's `zonal-statistics` process, with the
image as its `data`. Answers are tables, one row per feature and date (a GeoDataFrame when geopandas
is installed, else a pandas DataFrame, else a list of dicts); `stream=True` yields the rows of the
NDJSON output as each feature completes; a request over the synchronous pixel budget runs as a job.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from .errors import InvalidRequest

if TYPE_CHECKING:
    from .lazy import Image

PROCESS = "zonal-statistics"
NDJSON = "application/x-ndjson"
OVER_BUDGET = "pixel-budget-exceeded"  # the problem type of a sync request the service refuses as too big


def features_input(features: Any) -> dict[str, Any]:
    """The `features` input: a client Features query (its collection, CQL2 filter, bbox), a GeoJSON
    FeatureCollection / Feature, or anything with `__geo_interface__` (a GeoDataFrame)."""
    from .features import Features

    if isinstance(features, Features):
        return features.to_dict()
    if hasattr(features, "__geo_interface__"):
        features = features.__geo_interface__
    if isinstance(features, Mapping) and features.get("type") in ("FeatureCollection", "Feature"):
        return json.loads(json.dumps(features, default=_plain_number))
    raise TypeError("features must be svc.features(...) (optionally filtered), a GeoJSON FeatureCollection or "
                    f"Feature, or a GeoDataFrame; got {type(features).__name__}")


def _plain_number(v: Any) -> Any:
    """numpy scalars of a GeoDataFrame's properties -> JSON numbers."""
    if hasattr(v, "item"):
        return v.item()
    raise TypeError(f"{type(v).__name__} is not JSON serialisable")


def inputs(img: "Image", features: Any, **given: Any) -> dict[str, Any]:
    """The execution's inputs: the image as `data`, the features, and only the options given."""
    return {"data": img, "features": features_input(features)} | {k: v for k, v in given.items() if v is not None}


def rows(feature: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """One flat row per date of a result feature: id, its (scalar) properties, then the statistics."""
    props = feature.get("properties") or {}
    plain = {k: v for k, v in props.items() if not isinstance(v, (dict, list))}
    for s in props.get("series") or []:
        yield {"id": feature.get("id"), **plain, **s}


def table(features: list[dict[str, Any]]) -> Any:
    """GeoDataFrame (CRS84, the feature's geometry on each of its rows) with geopandas, else a pandas
    DataFrame, else the list of rows. `datetime` becomes a pandas datetime column."""
    records = [(r, f.get("geometry")) for f in features for r in rows(f)]
    try:
        import pandas as pd
    except ImportError:
        return [r for r, _ in records]
    df = pd.DataFrame([r for r, _ in records])
    if "datetime" in df:
        df["datetime"] = pd.to_datetime(df["datetime"], utc=True)
    try:
        import geopandas as gpd
        from shapely.geometry import shape
    except ImportError:
        return df
    return gpd.GeoDataFrame(df, geometry=[shape(g) if g else None for _, g in records], crs="OGC:CRS84")


def compute(img: "Image", body: dict[str, Any], job: bool | None) -> list[dict[str, Any]]:
    """The result features: sync, or a job when asked (`job=True`) or when the service refuses a
    synchronous request as over its pixel budget (`job=None`)."""
    svc = img._svc
    if not job:
        try:
            return svc._execute(PROCESS, body)["features"]
        except InvalidRequest as e:
            if job is False or not e.type.endswith(OVER_BUDGET):
                raise
    return svc._start(PROCESS, body).wait().result()["features"]["features"]


def stream(img: "Image", body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Rows of the NDJSON output, as the service sends each feature (it plans before answering, so a
    bad request raises on the first `next()`)."""
    body = body | {"outputs": {"result": {"format": {"mediaType": NDJSON}}}}
    for line in img._svc._stream_lines(PROCESS, body):
        yield from rows(json.loads(line))

