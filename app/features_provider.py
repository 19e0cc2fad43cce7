"""A pygeoapi feature provider over a GeoJSON file held in memory (CRS84), with a spatial index.

pygeoapi's own GeoJSON provider re-reads the file on every request and ignores `datetime`. This
one parses each file once (re-read only when its mtime or size changes), indexes the geometries
with a shapely STRtree and implements what OGC API - Features Part 1 asks of `/items`: bbox
intersection (antimeridian-crossing boxes too), `datetime` instants and intervals on the
configured `time_field`, equality filters on properties, sorting, property selection, and a
`numberMatched`/`numberReturned` that are right on every page.

pygeoapi instantiates a provider per request (`load_plugin`), so the instance is a thin view of the
shared, immutable `Layer`. `load_layer` is also what the collection descriptions use for extents.
"""
from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pygeoapi.provider.base import BaseProvider, ProviderInvalidQueryError, ProviderItemNotFoundError
from shapely.strtree import STRtree

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
    doc = json.loads(path.read_text(encoding="utf-8"))
    raw = doc.get("features", []) if doc.get("type") == "FeatureCollection" else [doc]
    features, ids = [], []
    for i, f in enumerate(raw):
        props = dict(f.get("properties") or {})
        fid = f.get("id", props.get(id_field, i))
        features.append({"type": "Feature", "id": fid, "geometry": f.get("geometry"), "properties": props})
        ids.append(str(fid))
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: feature ids are not unique")
    geoms = np.array([shapely.from_geojson(json.dumps(f["geometry"])) if f["geometry"] else None
                      for f in features], dtype=object)
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


# ---------------------------------------------------------------- query helpers
def _bbox_boxes(bbox: list[float]) -> list[Any]:
    """bbox (4 or 6 numbers, CRS84) -> shapely boxes; a west edge east of the east edge crosses 180°."""
    if len(bbox) == 6:
        bbox = [bbox[0], bbox[1], bbox[3], bbox[4]]
    minx, miny, maxx, maxy = bbox
    if not all(math.isfinite(v) for v in bbox):
        raise ProviderInvalidQueryError(user_msg="bbox values must be finite numbers")
    if minx <= maxx:
        return [shapely.box(minx, miny, maxx, maxy)]
    return [shapely.box(minx, miny, 180.0, maxy), shapely.box(-180.0, miny, maxx, maxy)]


def _typed(value: str, kind: str, name: str) -> Any:
    try:
        if kind == "integer":
            f = float(value)
            return int(f) if f.is_integer() else f
        if kind == "number":
            return float(value)
    except ValueError:
        raise ProviderInvalidQueryError(user_msg=f"'{name}' is a {kind}: '{value}' is not one") from None
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise ProviderInvalidQueryError(user_msg=f"'{name}' is a boolean: use true or false")
        return value.lower() == "true"
    return value


def _comparable(value: Any, kind: str) -> Any:
    """Values of a property in one comparable type (a mixed-type property compares as text)."""
    if value is None or kind in ("integer", "number", "boolean"):
        return value
    return str(value)


class GeoJSONMemoryProvider(BaseProvider):
    """pygeoapi `feature` provider: `data` is a GeoJSON FeatureCollection file in CRS84."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        self.id_field = self.id_field or "id"
        self.layer = load_layer(self.data, self.id_field, self.time_field)
        self._fields = self.layer.fields

    def get_fields(self) -> dict[str, dict[str, str]]:
        return self.layer.fields

    def _matching(self, bbox: list[float], datetime_: str | None, properties: list[tuple[str, str]]) -> list[int]:
        layer = self.layer
        if bbox:
            hits: set[int] = set()
            for box in _bbox_boxes(bbox):
                hits.update(int(i) for i in layer.tree.query(box, predicate="intersects"))
            idx = sorted(hits)
        else:
            idx = list(range(len(layer.features)))
        if datetime_:
            try:
                start, end = parse_datetime_param(datetime_)
            except ValueError as e:
                raise ProviderInvalidQueryError(user_msg=f"invalid datetime: {e}") from None
            if self.time_field:
                idx = [i for i in idx if (t := layer.times[i]) is not None and t[0] <= end and t[1] >= start]
        for name, value in properties:
            kind = self.fields.get(name, {}).get("type", "string")
            want = _typed(value, kind, name)
            idx = [i for i in idx if _comparable(layer.features[i]["properties"].get(name), kind) == want]
        return idx

    def _output(self, i: int, select: list[str], skip_geometry: bool) -> dict[str, Any]:
        f = self.layer.features[i]
        props = f["properties"]
        if select:
            props = {k: v for k, v in props.items() if k in select}
        return {"type": "Feature", "id": f["id"], "geometry": None if skip_geometry else f["geometry"],
                "properties": dict(props)}

    def query(self, offset: int = 0, limit: int = 10, resulttype: str = "results", bbox: list | None = None,
              datetime_: str | None = None, properties: list | None = None, sortby: list | None = None,
              select_properties: list | None = None, skip_geometry: bool = False, q: str | None = None,
              **kwargs: Any) -> dict[str, Any]:
        if q:
            raise ProviderInvalidQueryError(user_msg="free-text search (q) is not supported")
        if kwargs.get("filterq") is not None:
            raise ProviderInvalidQueryError(user_msg="CQL filters are not supported")
        idx = self._matching(bbox or [], datetime_, properties or [])
        for s in reversed(sortby or []):
            name, kind = s["property"], self.fields.get(s["property"], {}).get("type", "string")
            present = [i for i in idx if self.layer.features[i]["properties"].get(name) is not None]
            missing = [i for i in idx if self.layer.features[i]["properties"].get(name) is None]
            present.sort(key=lambda i: _comparable(self.layer.features[i]["properties"][name], kind),
                         reverse=s.get("order") == "-")
            idx = present + missing  # features without the property last, in either order
        page = [] if (resulttype or "").lower() == "hits" else idx[offset:offset + limit]
        return {"type": "FeatureCollection",
                "features": [self._output(i, select_properties or [], skip_geometry) for i in page],
                "numberMatched": len(idx), "numberReturned": len(page)}

    def get(self, identifier: Any, **kwargs: Any) -> dict[str, Any]:
        i = self.layer.index.get(str(identifier))
        if i is None:
            raise ProviderItemNotFoundError(user_msg=f"no feature '{identifier}' in this collection")
        return self._output(i, [], False)

    def __repr__(self) -> str:
        return f"<GeoJSONMemoryProvider> {self.data}"
