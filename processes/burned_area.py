"""The `burned-area` analysis: per protected site (any selection of features) and fire year, the
burned hectares by severity class, the share of the site, and the area burned more than once.

The yearly burn severities are the `burn-severity` workflow's (processes/workflows/fire.py); the
hectares come from the zonal engine at the imagery's native grid, over exactly the selected sites,
chunk by chunk on the executor: each column is a 0/1 raster (a class of a year, "burned this year
and in an earlier one", ...) whose coverage-weighted sum is turned into equal-area hectares
(`sum_ha`: the site's geodesic area spread over its cells). `assessed_share` is the share of the
site where the severity is known (excluded land cover and pixels never seen clear are not).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Mapping

import numpy as np
import shapely
import shapely.geometry
from pydantic import Field
from pyproj import Transformer
from rasterio.features import shapes

from .engine.errors import BudgetExceeded, GraphError
from .engine.evaluate import evaluate
from .engine.executor import Executor
from .engine.grid import crs_of
from .engine.graph import canonical, collections_of, parse_node
from .engine.sources import source_from_dict
from .workflows.fire import BURNED_CLASSES, BurnParams, severity, windows, years_of, yearly_stack
from .zonal.engine import GEOD, Spec, ZonalError, native_grid, plan, results
from .zonal.request import select_features

PID = "burned-area"


class BurnedAreaParams(BurnParams):
    """Burned area by site and year (the sites: a features collection selection or inline GeoJSON)."""

    sites: dict[str, Any] = Field(default_factory=lambda: {"collection": "protected_sites"},
                                  description="Features: `{\"collection\": id, \"filter\": cql2, \"bbox\": [...]}` "
                                              "or inline GeoJSON; default every protected site")
    years: tuple[int, ...] | str = Field(..., examples=["2022/2023"],
                                         description="Fire years: 'first/last' or a list of years (at most 8)")
    coverage: Literal["exact", "centers"] = Field("exact", description="Pixel coverage of the sites (as zonal statistics)")
    perimeters: bool = Field(False, description="Also vectorise the burned area of each site and year as polygons "
                                                "(a job's second features collection, job-{jobID}-perimeters)")


def _expression(data: dict[str, Any], formula: str) -> dict[str, Any]:
    return {"process": "expression", "inputs": {"data": data, "expression": formula, "name": "hit"}}


def columns(p: BurnParams, years: tuple[int, ...], resolve, path: str) -> tuple[list[str], list[dict[str, Any]]]:
    """(labels, 0/1 graphs): every burned class of every year, burned again, burned ever and twice."""
    labels, graphs = [], []
    for y in years:
        sev = severity(p, y, resolve, path)
        for code, name in BURNED_CLASSES.items():
            labels.append(f"{y}:{name}")
            graphs.append(_expression(sev, f"severity == {code}"))
    stack = yearly_stack(p, years, resolve, path)
    burned = [f"(y{y} >= 1)" for y in years]
    for k, y in enumerate(years[1:], 1):
        labels.append(f"{y}:reburned")
        graphs.append(_expression(stack, f"{burned[k]} & ({' | '.join(burned[:k])})"))
    labels += ["any", "more_than_once"]
    graphs += [_expression(stack, " | ".join(burned)), _expression(stack, f"({' + '.join(burned)}) >= 2")]
    return labels, graphs


def prepare(p: BurnedAreaParams, ctx: Any) -> dict[str, Any]:
    path = PID
    try:
        years = years_of(p.years)
    except ValueError as e:
        raise GraphError(str(e), f"{path}.inputs.years") from None
    labels, graphs = columns(p, years, ctx.resolve, path)
    source = ctx.lookup(p.collection)
    scenes = sum(len(source.select(w)) for y in years for w in windows(p, y))
    nodes = [parse_node(g, ctx.resolve, f"{path}.columns") for g in graphs]
    sites = select_features(p.sites, ctx.features, f"{path}.inputs.sites")
    if not sites:
        raise ZonalError(f"{path}.inputs.sites: no site matches the selection")
    cids = sorted(set().union(*map(collections_of, nodes)))
    severities = [canonical(parse_node(severity(p, y, ctx.resolve, path), ctx.resolve, path)) for y in years]
    return {"features": sites, "columns": [canonical(n) for n in nodes], "labels": labels, "years": list(years),
            "perimeters": p.perimeters, "severity": severities,
            "scenes": scenes,
            "grid": p.collection, "collections": {c: ctx.lookup(c).to_dict() for c in cids}, "coverage": p.coverage}


def run(request: Mapping[str, Any], executor: Executor, chunk: int = 1024,
        progress: Callable[[int, int], None] | None = None, max_pixels: int | None = None) -> Iterator[dict[str, Any]]:
    colls = {k: source_from_dict(v) for k, v in request["collections"].items()}
    nodes = tuple(parse_node(g, colls.__getitem__) for g in request["columns"])
    spec = Spec(None, tuple(request["labels"]), None, ("sum_ha", "area"), (), request["coverage"], columns=nodes)
    pl = plan(request["features"], spec, request["grid"], colls, chunk)
    reads = sum(t.grid.width * t.grid.height for t in pl.tasks) * request["scenes"]
    if max_pixels is not None and reads > max_pixels:
        raise BudgetExceeded(f"the request reads about {reads:,} pixels (the sites' windows in every scene of the "
                             f"windows); the limit of a synchronous execution is {max_pixels:,}. Execute it "
                             "asynchronously (Prefer: respond-async), or select fewer sites or years.")
    return (site_record(r, request["years"]) for r in results(pl, executor, progress))


def site_record(record: dict[str, Any], years: list[int]) -> dict[str, Any]:
    """A zonal record (one entry per column) as a site: one row per year, totals in the properties."""
    col = {s["datetime"]: s for s in record["series"]}
    props = dict(record["properties"])
    area = props.get("area_ha") or 0.0
    def ha(label: str) -> float | None:  # null where nothing could be assessed, never a zero
        v = col[label]["sum_ha"]
        return None if v is None else round(v, 4)

    series = []
    for y in years:
        row: dict[str, Any] = {"year": y, "assessed_share": round(col[f"{y}:low"]["valid_fraction"], 6)}
        if row["assessed_share"] == 0:
            series.append(row | dict.fromkeys([f"{n}_ha" for n in BURNED_CLASSES.values()] +
                                               ["burned_ha", "burned_share", "reburned_ha"]))
            continue
        for name in BURNED_CLASSES.values():
            row[f"{name}_ha"] = ha(f"{y}:{name}")
        row["burned_ha"] = round(sum(row[f"{n}_ha"] for n in BURNED_CLASSES.values()), 4)
        row["burned_share"] = round(row["burned_ha"] / area, 6) if area else None
        row["reburned_ha"] = ha(f"{y}:reburned") if y != years[0] else 0.0
        series.append(row)
    props["burned_any_year_ha"] = ha("any")
    props["burned_more_than_once_ha"] = ha("more_than_once")
    return {**record, "properties": props, "series": series}


def perimeters(request: Mapping[str, Any], results_dir: Path) -> dict[str, dict[str, str]]:
    """The burned area of every site and year as a polygon (GeoJSON, CRS84; written beside the
    table, served as the features collection `job-{jobID}-perimeters`): the pixels of class low
    or worse, vectorised at native resolution and cut to the site."""
    if not request.get("perimeters"):
        return {}
    colls = {k: source_from_dict(v) for k, v in request["collections"].items()}
    grid = native_grid(colls[request["grid"]])
    to_grid = Transformer.from_crs("OGC:CRS84", crs_of(grid.crs), always_xy=True)
    to_84 = Transformer.from_crs(crs_of(grid.crs), "OGC:CRS84", always_xy=True)
    reproject = lambda g, t: shapely.transform(g, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))  # noqa: E731
    sev = {y: parse_node(g, colls.__getitem__) for y, g in zip(request["years"], request["severity"])}
    out = []
    for f in request["features"]:
        site = reproject(shapely.from_geojson(json.dumps(f["geometry"])), to_grid)
        c0, r0 = np.floor(~grid.transform * (site.bounds[0], site.bounds[3])).astype(int)
        c1, r1 = np.ceil(~grid.transform * (site.bounds[2], site.bounds[1])).astype(int)
        c0, r0, c1, r1 = max(c0, 0), max(r0, 0), min(c1, grid.width), min(r1, grid.height)
        if c1 <= c0 or r1 <= r0:
            continue
        win = grid.window(int(c0), int(r0), int(c1 - c0), int(r1 - r0))
        for year, (r,) in ((y, evaluate([n], win, colls.__getitem__)) for y, n in sev.items()):
            burned = (r.mask & (r.data[0] >= 1)).astype(np.uint8)
            polys = [shapely.geometry.shape(g) for g, v in shapes(burned, burned.astype(bool), transform=win.transform) if v]
            if not polys:
                continue
            area = shapely.intersection(shapely.union_all(polys), site)
            if area.is_empty:
                continue
            g84 = reproject(area, to_84)
            ha = abs(GEOD.geometry_area_perimeter(g84)[0]) / 1e4
            out.append({"type": "Feature", "id": f"{f.get('id')}-{year}", "geometry": shapely.geometry.mapping(g84),
                        "properties": {"site": f.get("id"), "year": year, "burned_ha": round(ha, 4),
                                       "datetime": f"{year}-12-31T00:00:00Z"}})
    (results_dir / "perimeters.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": out}))
    return {"perimeters": {"file": "perimeters.geojson", "mediaType": "application/geo+json"}}
