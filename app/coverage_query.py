"""OGC API - Coverages query parameters -> the region to compute (CRS84, width x height).

Accepts the standard spellings (`bbox`, `subset=Lon(a:b),Lat(c:d)`, `scale-size=Lon(w),Lat(h)`,
`scale-factor`, `scale-axes`) and GDAL's OGCAPI driver spellings (`scaleSize`, axis `Long`).
"""
from __future__ import annotations

import math
import re
from typing import Mapping, Sequence

from processes.engine.region import Region
from processes.execute import MAX_SIDE

from .errors import ApiError

X_AXES = {"lon", "long", "longitude", "x", "e"}
Y_AXES = {"lat", "latitude", "y", "n"}
_AXIS = re.compile(r"\s*([A-Za-z]+)\(([^)]*)\)\s*")


def _axis_items(values: Sequence[str], name: str) -> dict[str, str]:
    """'Lon(1:2),Lat(3:4)' (possibly repeated params) -> {'x': '1:2', 'y': '3:4'}."""
    out: dict[str, str] = {}
    for value in values:
        pos = 0
        while pos < len(value):
            m = _AXIS.match(value, pos)
            if not m:
                raise ApiError(f"{name} must look like Lon(...),Lat(...); got '{value}'")
            axis = m.group(1).lower()
            key = "x" if axis in X_AXES else "y" if axis in Y_AXES else None
            if key is None:
                raise ApiError(f"unknown axis '{m.group(1)}' in {name}; use Lon and Lat")
            out[key] = m.group(2)
            pos = m.end()
            if pos < len(value) and value[pos] == ",":
                pos += 1
    return out


def _num(text: str, name: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ApiError(f"{name}: '{text}' is not a number") from None
    if not math.isfinite(v):
        raise ApiError(f"{name}: '{text}' is not finite")
    return v


def _positive(text: str, name: str) -> float:
    v = _num(text, name)
    if v <= 0:
        raise ApiError(f"{name} must be positive")
    return v


def parse_region(query: Mapping[str, str], getlist, extent: tuple[float, float, float, float],
                 native_res: float) -> Region:
    """The CRS84 region a coverage request asks for; defaults: the whole extent at native resolution."""
    w, s, e, n = extent
    if "bbox" in query and getlist("subset"):
        raise ApiError("bbox and subset both select the area: give one of them (OGC API - Coverages /req/subsetting)")
    if "bbox" in query:
        parts = query["bbox"].split(",")
        if len(parts) != 4:
            raise ApiError("bbox must be minLon,minLat,maxLon,maxLat")
        w, s, e, n = (_num(p, "bbox") for p in parts)
        crs = query.get("bbox-crs", "http://www.opengis.net/def/crs/OGC/1.3/CRS84")
        if "CRS84" not in crs and not crs.endswith("/4326"):
            raise ApiError("bbox-crs must be CRS84")
    subset = _axis_items(getlist("subset"), "subset")
    for key, interval in subset.items():
        lo, sep, hi = interval.partition(":")
        if not sep:
            raise ApiError(f"subset intervals must be low:high, got '{interval}'")
        a, b = _num(lo, "subset"), _num(hi, "subset")
        if key == "x":
            w, e = a, b
        else:
            s, n = a, b
    if not (w < e and s < n):
        raise ApiError("the requested area is empty (min must be below max)")
    if not (math.isfinite(e - w) and math.isfinite(n - s)):
        raise ApiError("the requested area is too large")
    if e <= extent[0] or w >= extent[2] or n <= extent[1] or s >= extent[3]:
        raise ApiError("the requested area does not intersect the coverage")
    width, height = (e - w) / native_res, (n - s) / native_res
    sizes = _axis_items(getlist("scale-size") + getlist("scaleSize"), "scale-size")
    if "scale-factor" in query:
        f = _num(query["scale-factor"], "scale-factor")
        if f <= 0:
            raise ApiError("scale-factor must be positive")
        width, height = width / f, height / f
    axes = _axis_items(getlist("scale-axes"), "scale-axes")
    if "x" in axes:
        width /= _positive(axes["x"], "scale-axes")
    if "y" in axes:
        height /= _positive(axes["y"], "scale-axes")
    if "width" in query:
        width = _num(query["width"], "width")
    if "height" in query:
        height = _num(query["height"], "height")
    if "x" in sizes:
        width = _num(sizes["x"], "scale-size")
    if "y" in sizes:
        height = _num(sizes["y"], "scale-size")
    if ("x" in sizes or "width" in query) and not ("y" in sizes or "height" in query):
        height = width * (n - s) / (e - w)
    if ("y" in sizes or "height" in query) and not ("x" in sizes or "width" in query):
        width = height * (e - w) / (n - s)
    if not (math.isfinite(width) and math.isfinite(height)) or width <= 0 or height <= 0:
        raise ApiError("the requested area and sizes must give a finite, positive number of pixels")
    width, height = max(1, round(width)), max(1, round(height))
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ApiError(f"the coverage would be {width} x {height} pixels (at most {MAX_SIDE} a side): "
                       "use subset/bbox or scale-size")
    return Region("OGC:CRS84", (w, s, e, n), width, height)
