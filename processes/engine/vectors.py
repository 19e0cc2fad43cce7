"""Features as the engine sees them: vector sources (a GeoJSON file, inline GeoJSON) that select
features by bbox, datetime and CQL2 filter, the same way for OGC API - Features `/items` and for
process inputs (`{"collection": "parcels", "filter": "crop_type = 'maize'"}`).

A GeoJSON file is parsed once (again only when its mtime or size changes) into an immutable
`Layer`: features, a shapely STRtree over their geometries (CRS84), each feature's time interval
from the configured time field, and the properties' JSON types (the queryables). Sources are
frozen dataclasses that travel in job requests as plain dicts (`to_dict` / `source_from_dict`).
"""
from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import shapely
from shapely.strtree import STRtree

from ..filters import Filter

Interval = tuple[datetime, datetime]  # closed, UTC
_DAY = timedelta(days=1) - timedelta(microseconds=1)


# ---------------------------------------------------------------- time values and the datetime parameter
def parse_instant(text: str) -> Interval:
    """An RFC 3339 date or date-time -> the closed UTC interval it denotes (a date is its whole day)."""
    text = text.strip()
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            start = datetime.combine(d, time(), timezone.utc)
            return start, start + _DAY
        dt = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"'{text}' is not an RFC 3339 date or date-time") from None
    if "T" not in text.upper() and " " not in text:
        raise ValueError(f"'{text}' is not an RFC 3339 date or date-time")
    dt = dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)
    return dt, dt


def parse_datetime_param(value: str) -> Interval:
    """`datetime=` (instant, `a/b`, `../b`, `a/..`, open ends also empty) -> a closed UTC interval."""
    if "/" not in value:
        return parse_instant(value)
    parts = value.split("/")
    if len(parts) != 2:
        raise ValueError("datetime must be an instant or an interval 'start/end'")
    lo, hi = (p.strip() for p in parts)
    start = datetime.min.replace(tzinfo=timezone.utc) if lo in ("", "..") else parse_instant(lo)[0]
    end = datetime.max.replace(tzinfo=timezone.utc) if hi in ("", "..") else parse_instant(hi)[1]
    if lo in ("", "..") and hi in ("", ".."):
        raise ValueError("datetime interval needs at least one bounded end")
    if start > end:
        raise ValueError("datetime interval starts after it ends")
    return start, end


def _feature_time(value: Any) -> Interval | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_instant(value)
    except ValueError:
        return None


# ---------------------------------------------------------------- the shared, immutable layer
def _json_type(values: list[Any]) -> str:
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {bool} and kinds:
        return "boolean"
    if kinds <= {int} and kinds:
        return "integer"
    if kinds <= {int, float} and kinds:
        return "number"
    return "string"


@dataclass(frozen=True)
class Layer:
    features: tuple[dict[str, Any], ...]
    ids: tuple[str, ...]
    index: dict[str, int]
    geoms: np.ndarray  # shapely geometries (None where a feature has none)
    tree: STRtree
    times: tuple[Interval | None, ...]
    fields: dict[str, dict[str, str]]
    bbox: tuple[float, float, float, float] | None
    temporal: tuple[str | None, str | None]


def _build_layer(path: Path, id_field: str, time_field: str | None) -> Layer:
    return _layer_of(json.loads(path.read_text(encoding="utf-8")), id_field, time_field, str(path))


def _layer_of(doc: Mapping[str, Any], id_field: str, time_field: str | None, where: str) -> Layer:
    raw = doc.get("features", []) if doc.get("type") == "FeatureCollection" else [doc]
    features, ids = [], []
    for i, f in enumerate(raw):
        props = dict(f.get("properties") or {})
        fid = f.get("id", props.get(id_field, i))
        features.append({"type": "Feature", "id": fid, "geometry": f.get("geometry"), "properties": props})
        ids.append(str(fid))
    if len(set(ids)) != len(ids):
        raise ValueError(f"{where}: feature ids are not unique")
    geoms = np.array([_geometry(f, where) for f in features], dtype=object)
    keys = sorted({k for f in features for k in f["properties"]})
    fields = {k: {"type": _json_type([f["properties"].get(k) for f in features])} for k in keys}
    if time_field in fields:
        values = [f["properties"].get(time_field) for f in features]
        dates_only = all(isinstance(v, str) and len(v.strip()) == 10 for v in values if v is not None)
        fields[time_field]["format"] = "date" if dates_only else "date-time"
    valid = [g for g in geoms if g is not None and not g.is_empty]
    bbox = tuple(float(v) for v in shapely.total_bounds(valid)) if valid else None
    times = tuple(_feature_time(f["properties"].get(time_field)) for f in features) if time_field else ()
    known = [t for t in times if t is not None]
    temporal = ((min(t[0] for t in known).isoformat().replace("+00:00", "Z"),
                 max(t[1] for t in known).isoformat().replace("+00:00", "Z")) if known else (None, None))
    return Layer(tuple(features), tuple(ids), {fid: i for i, fid in enumerate(ids)}, geoms, STRtree(geoms),
                 times, fields, bbox, temporal)


def _geometry(feature: Mapping[str, Any], where: str) -> Any:
    g = feature["geometry"]
    if not g:
        return None
    try:
        return shapely.from_geojson(json.dumps(g))
    except (shapely.errors.GEOSException, ValueError, TypeError):
        raise ValueError(f"{where}: feature {feature['id']!r} has an invalid GeoJSON geometry") from None


_CACHE: dict[tuple[str, str, str | None], tuple[tuple[int, int], Layer]] = {}
_LOCK = threading.Lock()


def load_layer(path: str | Path, id_field: str = "id", time_field: str | None = None) -> Layer:
    """The parsed, indexed layer of a GeoJSON file; parsed again only when the file changes."""
    path = Path(path)
    st = path.stat()
    stamp = (st.st_mtime_ns, st.st_size)
    key = (str(path), id_field, time_field)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        layer = _build_layer(path, id_field, time_field)
        _CACHE[key] = (stamp, layer)
        return layer


# ---------------------------------------------------------------- selecting features
def bbox_boxes(bbox: Sequence[float]) -> list[Any]:
    """bbox (4 or 6 numbers, CRS84) -> shapely boxes; a west edge east of the east edge crosses 180°."""
    if len(bbox) == 6:
        bbox = [bbox[0], bbox[1], bbox[3], bbox[4]]
    if len(bbox) != 4:
        raise ValueError("bbox must have 4 (or 6) numbers")
    minx, miny, maxx, maxy = bbox
    if not all(math.isfinite(v) for v in bbox):
        raise ValueError("bbox values must be finite numbers")
    if minx <= maxx:
        return [shapely.box(minx, miny, maxx, maxy)]
    return [shapely.box(minx, miny, 180.0, maxy), shapely.box(-180.0, miny, maxx, maxy)]


def select_indices(layer: Layer, bbox: Sequence[float] | None = None, datetime_: str | None = None,
                   filter_: Filter | None = None, time_field: str | None = None) -> list[int]:
    """Indices of the features intersecting bbox, overlapping the datetime (on the time field; a
    layer without one is not restricted) and matching the filter, in layer order."""
    if bbox:
        hits: set[int] = set()
        for box in bbox_boxes(bbox):
            hits.update(int(i) for i in layer.tree.query(box, predicate="intersects"))
        idx = sorted(hits)
    else:
        idx = list(range(len(layer.features)))
    if datetime_:
        start, end = parse_datetime_param(datetime_)
        if layer.times:
            idx = [i for i in idx if (t := layer.times[i]) is not None and t[0] <= end and t[1] >= start]
    if filter_ is not None:
        feats = layer.features
        idx = [i for i in idx if filter_.matches(feats[i]["properties"], feats[i]["geometry"])]
    return idx


class UnknownProperty(ValueError):
    """A filter names a property the collection does not have (not among its queryables)."""


def check_queryables(filter_: Filter, layer: Layer) -> None:
    unknown = sorted(filter_.properties - set(layer.fields) - {"geometry", "id"})
    if unknown:
        raise UnknownProperty(f"the filter uses unknown propert{'y' if len(unknown) == 1 else 'ies'} "
                              f"{', '.join(unknown)}; queryables are {', '.join(sorted(layer.fields)) or 'none'}")


@dataclass(frozen=True)
class GeoJSONFile:
    """A features collection of the service: a GeoJSON FeatureCollection file in CRS84."""

    id: str
    path: str
    id_field: str = "id"
    time_field: str | None = None

    def layer(self) -> Layer:
        return load_layer(self.path, self.id_field, self.time_field)

    def select(self, bbox: Sequence[float] | None = None, datetime_: str | None = None,
               filter_: Filter | None = None) -> list[dict[str, Any]]:
        layer = self.layer()
        if filter_ is not None:
            check_queryables(filter_, layer)
        return [layer.features[i] for i in select_indices(layer, bbox, datetime_, filter_)]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "file", "id": self.id, "path": self.path, "id_field": self.id_field,
                "time_field": self.time_field}


@dataclass(frozen=True)
class InlineFeatures:
    """GeoJSON given in a request (a FeatureCollection, a Feature or a bare geometry), in CRS84."""

    text: str  # the canonical JSON text: hashable, and the layer is built from it once per process

    @classmethod
    def from_geojson(cls, doc: Any) -> "InlineFeatures":
        if not isinstance(doc, Mapping) or "type" not in doc:
            raise ValueError("inline features must be GeoJSON: a FeatureCollection, a Feature or a geometry")
        if doc["type"] not in ("FeatureCollection", "Feature"):
            doc = {"type": "Feature", "geometry": dict(doc), "properties": {}}
        return cls(json.dumps(doc, sort_keys=True, separators=(",", ":")))

    @property
    def id(self) -> str:
        return "inline"

    def layer(self) -> Layer:
        return _inline_layer(self.text)

    def select(self, bbox: Sequence[float] | None = None, datetime_: str | None = None,
               filter_: Filter | None = None) -> list[dict[str, Any]]:
        layer = self.layer()
        return [layer.features[i] for i in select_indices(layer, bbox, datetime_, filter_)]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "inline", "text": self.text}


VectorSource = GeoJSONFile | InlineFeatures


def source_from_dict(d: Mapping[str, Any]) -> VectorSource:
    if d["kind"] == "file":
        return GeoJSONFile(d["id"], d["path"], d.get("id_field", "id"), d.get("time_field"))
    return InlineFeatures(d["text"])


_INLINE: dict[str, Layer] = {}


def _inline_layer(text: str) -> Layer:
    layer = _INLINE.get(text)
    if layer is None:
        layer = _layer_of(json.loads(text), "id", None, "inline features")
        if len(_INLINE) > 32:
            _INLINE.clear()
        _INLINE[text] = layer
    return layer
