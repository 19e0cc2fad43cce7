"""Search parameters checked before a STAC backend sees them, so bad input is a 400 naming the
parameter (the backends answer some of it with an empty 200, a 500 or a message that names nothing).

Parsing is the libraries': RFC 3339 intervals by stac-fastapi, CQL2 (text and JSON) by `cql2`.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

import cql2
from fastapi import HTTPException
from stac_fastapi.types.rfc3339 import str_to_interval

from ..errors import ApiError

CORE_FIELDS = {"id", "collection", "geometry", "bbox", "datetime"}  # always known


def check_datetime(value: Any) -> None:
    if value is None:
        return
    try:
        str_to_interval(str(value))
    except HTTPException as e:
        raise ApiError(f"datetime={value}: {e.detail} Expected an RFC 3339 date-time or an interval "
                       "'start/end' with start <= end ('..' for an open end).") from None


def check_bbox(value: Any) -> None:
    if value is None or value == "":
        return
    try:
        box = [float(v) for v in (value.strip("[]").split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        raise ApiError(f"bbox={value}: expected 4 (or 6) comma-separated numbers") from None
    if len(box) not in (4, 6):
        raise ApiError(f"bbox={value}: expected 4 (or 6) numbers, got {len(box)}")
    half = len(box) // 2
    lons, lats = (box[0], box[half]), (box[1], box[half + 1])
    if not all(-180 <= x <= 180 for x in lons) or not all(-90 <= y <= 90 for y in lats):
        raise ApiError(f"bbox={value}: longitudes must lie in [-180, 180] and latitudes in [-90, 90] (CRS84)")
    if lats[0] > lats[1]:
        raise ApiError(f"bbox={value}: the southern latitude is north of the northern one")


def _properties(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        if isinstance(node.get("property"), str):
            yield node["property"]
        for v in node.values():
            yield from _properties(v)
    elif isinstance(node, list):
        for v in node:
            yield from _properties(v)


def _known(name: str, queryables: set[str]) -> bool:
    return name.removeprefix("properties.") in queryables or name in CORE_FIELDS


def check_filter(value: Any, queryables: set[str]) -> None:
    if value is None or value == "":
        return
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise ApiError(f"filter: not valid CQL2 JSON: {e}") from None
    try:
        expr = cql2.Expr(value).to_json()
    except Exception as e:  # cql2 raises a plain Exception carrying the parser's message
        raise ApiError(f"filter: not a valid CQL2 expression: {str(e).strip()}") from None
    unknown = sorted({p for p in _properties(expr) if not _known(p, queryables)})
    if unknown:
        raise ApiError(f"filter: unknown propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
                       f"queryables are {', '.join(sorted(queryables | CORE_FIELDS))}")


def check_sortby(value: Any, queryables: set[str]) -> None:
    if not value:
        return
    if isinstance(value, str):
        fields = [f.strip().lstrip("+-") for f in value.split(",")]
    else:
        fields = [s.get("field", "") if isinstance(s, dict) else str(s).lstrip("+-") for s in value]
    unknown = sorted({f for f in fields if not _known(f, queryables)})
    if unknown:
        raise ApiError(f"sortby: unknown field {', '.join(unknown)}; sortable are {', '.join(sorted(queryables | CORE_FIELDS))}")


def check_search(params: dict[str, Any], queryables: set[str]) -> None:
    """Check the search parameters of a GET query (strings) or a POST body (JSON values)."""
    check_datetime(params.get("datetime"))
    check_bbox(params.get("bbox"))
    check_filter(params.get("filter"), queryables)
    check_sortby(params.get("sortby"), queryables)
