"""Burn severity and fire history from a multispectral time series (Sentinel-2 by default).

dNBR = NBR(pre-fire) - NBR(post-fire), NBR = (NIR - SWIR2) / (NIR + SWIR2), of two cloud-free
per-pixel median composites, classified with the USGS FireMon severity classes (Key & Benson
2006; the thresholds are a parameter). The windows are *anniversary* windows: the post-fire
window is a season of the fire year ("09-01/10-31", after the summer fire season), the pre-fire
window the same season one year earlier, so that seasonal phenology (summer drying, leaf fall)
is the same in both composites and does not pass as fire. Harvest is not seasonal in that sense
(a field harvested in one year and not the next, or rotated), so pixels of the excluded land-cover
classes (cropland, class 3 of the `landcover` collection, by default) are masked out. Both are
measured on the demo against the generator's truth (see tests/workflows/test_fire.py).

The fire history over several years stacks the yearly severities: the year each pixel last
burned, and how many of the years it burned in (a pixel burned when its class is `low` or
worse; `burned_from` moves that line).
"""
from __future__ import annotations

import re
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..engine.datetimes import parse_interval
from ..engine.errors import GraphError
from . import Workflow

USGS_THRESHOLDS = (-0.25, -0.1, 0.1, 0.27, 0.44, 0.66)
# (class value, name, colour): the USGS FireMon classes and their usual colours
SEVERITY_CLASSES = (
    (-2, "enhanced regrowth, high", "#7a8737"),
    (-1, "enhanced regrowth, low", "#acbe4d"),
    (0, "unburned", "#0ae042"),
    (1, "low severity", "#fff70b"),
    (2, "moderate-low severity", "#ffaf38"),
    (3, "moderate-high severity", "#ff641b"),
    (4, "high severity", "#a41fd6"),
)
BURNED_CLASSES = {1: "low", 2: "moderate_low", 3: "moderate_high", 4: "high"}
YEAR_COLOURS = ("#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026", "#800026")
MAX_YEARS = len(YEAR_COLOURS)  # the stack of yearly severities holds at most eight rasters
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


class Exclusion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    collection: str = Field("landcover", min_length=1, description="A class raster collection")
    classes: tuple[float, ...] = Field((3.0,), min_length=1, max_length=64,
                                       description="Its classes masked out (demo land cover: 3 cropland)")


class BurnParams(BaseModel):
    """What every fire workflow shares: the imagery, the windows' season, the index and classes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    collection: str = Field("sentinel2", min_length=1, description="Time series collection with the NIR, SWIR2 and "
                                                                   "scene classification bands")
    season: str = Field("09-01/10-31", description="MM-DD/MM-DD: the post-fire window in the fire year; the pre-fire "
                                                   "window is the same dates one year earlier (anniversary windows)")
    nir: str = Field("B08", min_length=1, description="Near-infrared band")
    swir: str = Field("B12", min_length=1, description="Short-wave infrared band (SWIR2, ~2.2 um)")
    thresholds: tuple[float, float, float, float, float, float] = Field(
        USGS_THRESHOLDS, description="dNBR class boundaries, increasing: enhanced regrowth high | low | unburned | "
                                     "low | moderate-low | moderate-high | high severity (USGS FireMon)")
    exclude: Exclusion | None = Field(default_factory=Exclusion,
                                      description="Land-cover classes masked out (harvest is not fire); null: none")

    @field_validator("season")
    @classmethod
    def _season(cls, v: str) -> str:
        parts = v.split("/")
        if len(parts) != 2 or not all(_MONTH_DAY.match(x) for x in parts):
            raise ValueError(f"season '{v}' is not 'MM-DD/MM-DD' (e.g. 09-01/10-31)")
        for x in parts:
            parse_interval(f"2000-{x}", "season")  # a real day (2000 is a leap year)
        if parts[0] > parts[1]:
            raise ValueError(f"season '{v}' ends before it starts (a season within one calendar year)")
        return v

    @field_validator("thresholds")
    @classmethod
    def _increasing(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(b >= c for b, c in zip(v, v[1:])):
            raise ValueError(f"thresholds must be strictly increasing, got {list(v)}")
        return v


class BurnSeverityParams(BurnParams):
    """The burn severity of one fire year (or of explicit pre- and post-fire windows)."""

    year: int = Field(..., ge=1900, le=2200, examples=[2023], description="Fire year")
    pre_fire: str | None = Field(None, description="Explicit pre-fire window (ISO 8601 interval), instead of the season")
    post_fire: str | None = Field(None, description="Explicit post-fire window (ISO 8601 interval), instead of the season")
    output: Literal["severity", "dnbr"] = Field("severity", description="The severity class map, or dNBR itself")


class FireHistoryParams(BurnParams):
    """Several fire years at once: when each pixel last burned, how many times it burned."""

    years: tuple[int, ...] | str = Field(..., examples=["2022/2023"],
                                         description="'first/last' or a list of years (at most 8)")
    output: Literal["last_burned", "times_burned", "max_severity"] = Field(
        "last_burned", description="Which map: the year each pixel last burned, how many of the years it burned in, "
                                   "or its worst severity class over the years")
    burned_from: int = Field(1, ge=1, le=4, description="The lowest severity class counted as burned (1 = low)")

    @model_validator(mode="after")
    def _years(self) -> "FireHistoryParams":
        years_of(self.years)
        return self


def years_of(value: tuple[int, ...] | str) -> tuple[int, ...]:
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d{4})\s*(?:/\s*(\d{4})\s*)?", value)
        if m is None:
            raise ValueError(f"years '{value}' is not 'YYYY' or 'first/last'")
        first, last = int(m[1]), int(m[2] or m[1])
        if last < first:
            raise ValueError(f"years '{value}' ends before it starts")
        value = tuple(range(first, last + 1))
    if not value or list(value) != sorted(set(value)):
        raise ValueError("years must be distinct and increasing")
    if len(value) > MAX_YEARS:
        raise ValueError(f"at most {MAX_YEARS} years at once, got {len(value)}")
    return tuple(value)


def windows(p: BurnParams, year: int, pre: str | None = None, post: str | None = None, path: str = "") -> tuple[str, str]:
    """(pre-fire, post-fire) datetime intervals of a fire year; explicit ones are checked for order."""
    start, end = p.season.split("/")
    pre = pre or f"{year - 1}-{start}/{year - 1}-{end}"
    post = post or f"{year}-{start}/{year}-{end}"
    a, b = parse_interval(pre, f"{path}.pre_fire"), parse_interval(post, f"{path}.post_fire")
    if a.end >= b.start:
        raise GraphError(f"the pre-fire window {pre} must end before the post-fire window {post} starts", path)
    return pre, post


def _scenes(resolve: Callable[[str], Any], p: BurnParams, window: str, what: str, year: int, path: str) -> None:
    try:
        source = resolve(p.collection)
    except KeyError:
        raise GraphError(f"unknown collection '{p.collection}'", f"{path}.collection") from None
    select = getattr(source, "select", None)
    if select is None or not getattr(source, "is_series", False):
        raise GraphError(f"'{p.collection}' is not a time series collection", f"{path}.collection")
    if not select(window):
        raise GraphError(f"no scene of '{p.collection}' in the {what} window {window} of fire year {year}",
                         f"{path}.year")


def nbr(p: BurnParams, window: str) -> dict[str, Any]:
    scenes = {"collection": p.collection, "bands": [p.nir, p.swir, "SCL"], "datetime": window}
    median = {"process": "composite", "inputs": {"data": scenes, "method": "median", "bands": [p.nir, p.swir]}}
    return {"process": "normalized_difference", "inputs": {"data": median, "a": p.nir, "b": p.swir, "name": "nbr"}}


def dnbr(p: BurnParams, year: int, resolve: Callable[[str], Any], path: str,
         pre: str | None = None, post: str | None = None) -> dict[str, Any]:
    """dNBR of a fire year, excluded land cover masked out (band `nbr_diff`)."""
    pre, post = windows(p, year, pre, post, path)
    _scenes(resolve, p, pre, "pre-fire", year, path)
    _scenes(resolve, p, post, "post-fire", year, path)
    graph = {"process": "difference", "inputs": {"a": nbr(p, pre), "b": nbr(p, post)}}
    if p.exclude is not None:
        graph = {"process": "mask", "inputs": {"data": graph, "mask": {"collection": p.exclude.collection},
                                               "values": list(p.exclude.classes)}}
    return graph


def severity(p: BurnParams, year: int, resolve: Callable[[str], Any], path: str,
             pre: str | None = None, post: str | None = None) -> dict[str, Any]:
    """The USGS severity class of every pixel in a fire year (band `severity`, a class map)."""
    return {"process": "reclassify", "inputs": {
        "data": dnbr(p, year, resolve, path, pre, post), "breaks": list(p.thresholds),
        "values": [v for v, _, _ in SEVERITY_CLASSES], "name": "severity",
        "legend": [{"value": v, "name": n, "color": c} for v, n, c in SEVERITY_CLASSES]}}


def _burn_severity(p: BurnSeverityParams, resolve, path: str) -> dict[str, Any]:
    if p.output == "dnbr":
        return dnbr(p, p.year, resolve, path, p.pre_fire, p.post_fire)
    return severity(p, p.year, resolve, path, p.pre_fire, p.post_fire)


def yearly_stack(p: BurnParams, years: tuple[int, ...], resolve, path: str) -> dict[str, Any]:
    """The severities of several years as one raster, bands y2022, y2023, ..."""
    sev = [severity(p, y, resolve, path) for y in years]
    if len(sev) == 1:
        return {"process": "expression", "inputs": {"data": sev[0], "expression": "severity", "name": f"y{years[0]}"}}
    return {"process": "stack", "inputs": {**dict(zip("abcdefgh", sev)), "names": [f"y{y}" for y in years]}}


def _fire_history(p: FireHistoryParams, resolve, path: str) -> dict[str, Any]:
    years = years_of(p.years)
    data = yearly_stack(p, years, resolve, path)
    burned = [f"(y{y} >= {p.burned_from})" for y in years]
    if p.output == "max_severity":
        formula = f"y{years[0]}"
        for y in years[1:]:
            formula = f"maximum({formula}, y{y})"
        codes = [v for v, _, _ in SEVERITY_CLASSES]
        expr = {"process": "expression", "inputs": {"data": data, "expression": formula, "name": "max_severity"}}
        return {"process": "reclassify", "inputs": {
            "data": expr, "breaks": [c + 0.5 for c in codes[:-1]], "values": codes, "name": "max_severity",
            "legend": [{"value": v, "name": n, "color": c} for v, n, c in SEVERITY_CLASSES]}}
    if p.output == "last_burned":
        formula = "nan"
        for y, b in zip(years, burned):  # the newest year wins: it is the outermost where()
            formula = f"where({b}, {y}, {formula})"
        values, names = list(years), [f"last burned in {y}" for y in years]
    else:
        total = " + ".join(burned)
        formula = f"where({total} >= 1, {total}, nan)"
        values = list(range(1, len(years) + 1))
        names = ["burned once"] + [f"burned {k} times" for k in values[1:]]
    expr = {"process": "expression", "inputs": {"data": data, "expression": formula, "name": p.output}}
    colours = YEAR_COLOURS[len(YEAR_COLOURS) - len(values):]  # the darkest: the newest year, the most fires
    if len(values) == 1:
        values = [values[0], values[0]]  # reclassify needs one break: both sides are the same class
    breaks = [(a + b) / 2 for a, b in zip(values, values[1:])]
    legend = [{"value": v, "name": n, "color": c} for v, n, c in zip(dict.fromkeys(values), names, colours)]
    return {"process": "reclassify", "inputs": {"data": expr, "breaks": breaks, "values": values,
                                                "name": p.output, "legend": legend}}


WORKFLOWS = (
    Workflow("burn-severity", "Burn severity (dNBR, USGS classes)",
             "dNBR of cloud-free median composites before and after a fire year (anniversary windows: the same "
             "season one year apart), excluded land cover (cropland) masked, classified with the USGS severity "
             "classes; a class map with its legend, or dNBR itself. Deferred: tiles, coverages and jobs.",
             BurnSeverityParams, _burn_severity, ("fire", "burned area", "dnbr", "nbr", "severity")),
    Workflow("fire-history", "Fire history over several years",
             "For a range of fire years: the year each pixel last burned, or how many of the years it burned in "
             "(from the yearly burn severities).",
             FireHistoryParams, _fire_history, ("fire", "burned area", "multi-annual")),
)
