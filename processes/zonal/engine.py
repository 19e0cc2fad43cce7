"""Zonal statistics over features and time: plan chunks of the raster grid, run them in the
engine's executor, merge the pieces of features that straddle chunks, yield finished features.

Per chunk the coverage weights of its features are computed once (a sparse features x cells
matrix) and reused for every date and statistic; each date's raster window is evaluated once for
all the features inside (`evaluate` with the graph's collections set to that date, so same-day
scenes mosaic and any deferred workflow, e.g. an NDVI or NBR, works), then one sparse product
gives count, sum and sum of squares of every feature. A feature is emitted as soon as every
chunk it touches is done, so results stream while the rest computes.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import shapely
from affine import Affine
from pyproj import Geod, Transformer

from ..engine.errors import EngineError
from ..engine.evaluate import evaluate, margins
from ..engine.executor import Executor
from ..engine.fanout import fan_out
from ..engine.graph import CollectionNode, Node, canonical, collections_of
from ..engine.grid import Grid, crs_of
from ..engine.region import chunk_sources
from ..engine.reader import dataset_info
from ..engine.sources import Source
from .coverage import Rule, to_pixels, weights
from .stats import Partial, date_partial, finalize

GEOD = Geod(ellps="WGS84")


class ZonalError(EngineError):
    """Inputs a zonal computation cannot work with (no scene, no feature on the raster...): a 400."""


@dataclass(frozen=True)
class CloudMask:
    band: str
    classes: tuple[float, ...]
    collection: str


@dataclass(frozen=True)
class Spec:
    """What to compute: the value graph, the dates, the mask, the statistics and coverage rule.

    With `columns`, each column is its own graph (e.g. one per fire year and severity class) and
    `dates` are the columns' labels: all columns of a chunk are evaluated together, so the nodes
    they share (the composites under every class of a year) are computed once."""

    value: Node | None
    dates: tuple[str | None, ...]
    mask: CloudMask | None
    statistics: tuple[str, ...]
    quantiles: tuple[tuple[str, float], ...]
    rule: Rule
    columns: tuple[Node, ...] | None = None


@dataclass(frozen=True)
class ChunkTask:
    grid: Grid  # the window read: part of the chunk
    chunk: Grid  # the chunk, on the fixed chunk grid: coverage is computed in its pixel coordinates
    features: tuple[int, ...]  # indices into the plan's features
    geoms: tuple[bytes, ...]  # WKB in the grid's CRS
    spec: Spec
    collections: Mapping[str, Source]


@dataclass(frozen=True)
class Plan:
    features: tuple[dict[str, Any], ...]  # GeoJSON features (CRS84), as selected
    area_ha: tuple[float, ...]
    full: np.ndarray  # each feature's area in raster cells (valid_fraction's denominator)

    @property
    def ha_per_cell(self) -> np.ndarray:
        """Each feature's ground hectares per raster cell: its geodesic area over its area in cells,
        so sums of cells become equal-area hectares whatever the projection's scale there."""
        with np.errstate(all="ignore"):
            return np.where(self.full > 0, np.asarray(self.area_ha) / self.full, 0.0)
    tasks: tuple[ChunkTask, ...]
    spec: Spec
    key: str = "zonal"  # names the chunk tasks: equal plans, equal task names (see engine.fanout)


def at_date(node: Node, date: str | None) -> Node:
    """The graph with every collection reference restricted to one date."""
    if date is None:
        return node
    if isinstance(node, CollectionNode):
        return replace(node, datetime=date)
    return replace(node, inputs=tuple((n, at_date(c, date)) for n, c in node.inputs))


def scene_dates(node: Node, lookup: Callable[[str], Source], datetime: str | None) -> tuple[str | None, ...]:
    """The days with a scene of any series collection the graph reads, oldest first."""
    days: set[str] = set()
    series = False
    for cid in sorted(collections_of(node)):
        coll = lookup(cid)
        if not coll.is_series:
            continue
        series = True
        days.update((i.datetime or "")[:10] for i in coll.select(datetime) if i.datetime)
    if not series:
        return (None,)
    if not days:
        raise ZonalError(f"no scene in the datetime range '{datetime}'" if datetime else "the collection has no dated scene")
    return tuple(sorted(days))


def native_grid(coll: Source) -> Grid:
    """The finest grid of a source: its first item's pixel grid extended over every item."""
    infos = [dataset_info(i.assets[0].href) for i in coll.select()]
    first = infos[0]
    a, _, c, _, e, f = first.levels[0].transform
    bounds = [i.bounds for i in infos if i.crs == first.crs]
    w, s = min(b[0] for b in bounds), min(b[1] for b in bounds)
    east, n = max(b[2] for b in bounds), max(b[3] for b in bounds)
    c0, r0 = math.floor((w - c) / a + 1e-9), math.floor((n - f) / e + 1e-9)
    c1, r1 = math.ceil((east - c) / a - 1e-9), math.ceil((s - f) / e - 1e-9)
    return Grid(first.crs, Affine(a, 0, c + c0 * a, 0, e, f + r0 * e), c1 - c0, r1 - r0)


def geometries(features: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """The features' shapely geometries (one GeoJSON parse for all), checked: polygons or points,
    not empty, valid; else a ZonalError naming the first bad feature."""
    for f in features:
        if not f.get("geometry"):
            raise ZonalError(f"feature {f.get('id')!r} has no geometry")
    doc = {"type": "GeometryCollection", "geometries": [f["geometry"] for f in features]}
    try:
        geoms = shapely.get_parts(shapely.from_geojson(json.dumps(doc)))
    except (shapely.errors.GEOSException, ValueError) as e:
        raise ZonalError(f"the features' geometries are not valid GeoJSON: {e}") from None
    if len(geoms) != len(features):  # a nested collection or an empty geometry collapsed the list
        geoms = np.array([shapely.from_geojson(json.dumps(f["geometry"])) for f in features], dtype=object)
    kinds = shapely.get_type_id(geoms)
    bad = np.nonzero(shapely.is_empty(geoms) | ~np.isin(kinds, (0, 3, 4, 6)) | ~shapely.is_valid(geoms))[0]
    if len(bad):
        g, fid = geoms[bad[0]], features[bad[0]].get("id")
        if g.is_empty:
            raise ZonalError(f"feature {fid!r} has an empty geometry")
        if g.geom_type not in ("Polygon", "MultiPolygon", "Point", "MultiPoint"):
            raise ZonalError(f"feature {fid!r} is a {g.geom_type}; zonal statistics need polygons or points")
        raise ZonalError(f"feature {fid!r} has an invalid geometry: {shapely.is_valid_reason(g)}")
    return geoms


def plan(features: Sequence[Mapping[str, Any]], spec: Spec, grid_source: str,
         collections: Mapping[str, Source], chunk: int = 1024) -> Plan:
    """Chunk tasks for `features` (CRS84) on the native grid of collection `grid_source`."""
    grid = native_grid(collections[grid_source])
    to_crs = Transformer.from_crs("OGC:CRS84", crs_of(grid.crs), always_xy=True)
    geoms84 = geometries(features)
    geoms = shapely.transform(geoms84, lambda xy: np.column_stack(to_crs.transform(xy[:, 0], xy[:, 1])))
    cell = abs(grid.transform.a * grid.transform.e)
    points = np.isin(shapely.get_type_id(geoms), (0, 4))
    full = tuple(np.where(points, 1.0, shapely.area(geoms) / cell))
    area_ha = tuple(abs(GEOD.geometry_area_perimeter(g)[0]) / 1e4 for g in geoms84) if {"area", "sum_ha"} & set(spec.statistics) \
        else ()
    px_bounds = shapely.bounds(to_pixels(geoms, grid.transform))  # minx(col), miny(row), maxx, maxy
    c0 = np.clip(np.floor(px_bounds[:, 0]), 0, grid.width).astype(int)
    r0 = np.clip(np.floor(px_bounds[:, 1]), 0, grid.height).astype(int)
    c1 = np.clip(np.floor(px_bounds[:, 2]) + 1, 0, grid.width).astype(int)
    r1 = np.clip(np.floor(px_bounds[:, 3]) + 1, 0, grid.height).astype(int)
    on = (c1 > c0) & (r1 > r0)
    if not on.any():
        raise ZonalError(f"no feature intersects the extent of collection '{grid_source}'")
    roots = list(spec.columns) if spec.columns is not None else [spec.value]
    if spec.mask is not None:
        roots.append(CollectionNode(spec.mask.collection, (spec.mask.band,)))
    need = margins(roots)  # what run_chunk reads around its window, on any of the dates
    tasks = []
    for cr in range(int(r0[on].min()) // chunk * chunk, int(r1[on].max()), chunk):
        for cc in range(int(c0[on].min()) // chunk * chunk, int(c1[on].max()), chunk):
            inside = np.nonzero(on & (c0 < cc + chunk) & (c1 > cc) & (r0 < cr + chunk) & (r1 > cr))[0]
            if not len(inside):
                continue
            # the window: this chunk cut down to the features' cells in it (nothing else is read)
            wc0, wr0 = max(cc, int(c0[inside].min())), max(cr, int(r0[inside].min()))
            wc1, wr1 = min(cc + chunk, int(c1[inside].max())), min(cr + chunk, int(r1[inside].max()))
            win = grid.window(wc0, wr0, wc1 - wc0, wr1 - wr0)
            tasks.append(ChunkTask(win, grid.window(cc, cr, chunk, chunk), tuple(int(i) for i in inside),
                                   tuple(shapely.to_wkb(geoms[i]) for i in inside), spec,
                                   chunk_sources(need, win, collections, any_date=True)))
    return Plan(tuple(features), area_ha, np.asarray(full), tuple(tasks), spec, _key(tasks, spec, collections))


def _key(tasks: Sequence[ChunkTask], spec: Spec, collections: Mapping[str, Source]) -> str:
    h = hashlib.sha256(json.dumps({
        "value": canonical(spec.value) if spec.value is not None else None,
        "columns": [canonical(c) for c in spec.columns or ()], "dates": spec.dates, "statistics": spec.statistics,
        "quantiles": spec.quantiles, "rule": spec.rule, "mask": repr(spec.mask),
        "versions": {c: s.version for c, s in sorted(collections.items())}}, sort_keys=True, default=str).encode())
    for t in tasks:
        h.update(repr((tuple(t.chunk.transform)[:6], t.grid.width, t.grid.height, t.features)).encode())
        for g in t.geoms:
            h.update(g)
    return "zonal-" + h.hexdigest()[:20]


def run_chunk(task: ChunkTask) -> tuple[tuple[int, ...], Partial]:
    """Module-level (process pools and dask run it): the partials of one chunk's features."""
    spec, grid = task.spec, task.grid
    geoms_px = list(to_pixels(shapely.from_wkb(np.array(task.geoms, dtype=object)), task.chunk.transform))
    off = (round((grid.transform.c - task.chunk.transform.c) / grid.transform.a),
           round((grid.transform.f - task.chunk.transform.f) / grid.transform.e))
    W = weights(geoms_px, grid.width, grid.height, spec.rule, off)
    # only the cells some feature covers take part: gather them once per date, then work on those
    covered = np.zeros(grid.width * grid.height, bool)
    covered[W.indices] = True
    used = np.flatnonzero(covered)
    W = W[:, used] if used.size < grid.width * grid.height else W
    out = Partial.empty(len(task.features), len(spec.dates))
    extremes = bool({"min", "max"} & set(spec.statistics))
    lookup = task.collections.__getitem__

    def cells(a: np.ndarray) -> np.ndarray:
        return a.ravel()[used]

    if spec.columns is not None:
        for j, r in enumerate(evaluate(list(spec.columns), grid, lookup)):
            x = cells(r.data[0]).astype(np.float64)
            date_partial(W, x, cells(r.mask) & np.isfinite(x), out, j, extremes, bool(spec.quantiles))
        return task.features, out
    for j, date in enumerate(spec.dates):
        roots: list[Node] = [at_date(spec.value, date)]
        if spec.mask is not None:
            roots.append(CollectionNode(spec.mask.collection, (spec.mask.band,), date))
        rasters = evaluate(roots, grid, lookup)
        x = cells(rasters[0].data[0]).astype(np.float64)
        valid = cells(rasters[0].mask) & np.isfinite(x)
        if spec.mask is not None:
            m = rasters[1]
            valid &= cells(m.mask) & ~np.isin(cells(m.data[0]), np.asarray(spec.mask.classes, np.float32))
        date_partial(W, x, valid, out, j, extremes, bool(spec.quantiles))
    return task.features, out


def results(p: Plan, executor: Executor, progress: Callable[[int, int], None] | None = None
            ) -> Iterator[dict[str, Any]]:
    """Feature results (GeoJSON-like dicts with a `series`), each as soon as its chunks are done.
    The chunks run as tasks of the executor (engine.fanout: a few per worker in flight, results in
    order, a chunk whose worker was lost is run again)."""
    n, d = len(p.features), len(p.spec.dates)
    left = np.zeros(n, int)
    for t in p.tasks:
        left[list(t.features)] += 1
    for i in np.nonzero(left == 0)[0]:  # outside the raster: an explicit empty result
        yield record(p, int(i), table(p, Partial.empty(1, d), [int(i)]), 0)
    pieces: dict[int, dict[int, Partial]] = {}  # feature -> {task index: its partial there}
    done = 0
    for t, (features, part) in enumerate(fan_out(executor, run_chunk, p.tasks, key=p.key)):
        done += 1
        whole_here = table(p, part, features)
        for k, i in enumerate(features):
            if left[i] == 1 and i not in pieces:  # the common case: the feature is whole in this chunk
                left[i] = 0
                yield record(p, i, whole_here, k)
                continue
            pieces.setdefault(i, {})[t] = _row(part, k)
            left[i] -= 1
            if left[i] == 0:  # merged in task order: the same sums whatever order chunks finish in
                whole = Partial.empty(1, d)
                for _, piece in sorted(pieces.pop(i).items()):
                    whole.merge_rows(np.zeros(1, int), piece)
                yield record(p, i, table(p, whole, [i]), 0)
        if progress is not None:
            progress(done, len(p.tasks))


def _row(part: Partial, k: int) -> Partial:
    return Partial(part.count[k:k + 1], part.sum[k:k + 1], part.sumsq[k:k + 1], part.min[k:k + 1],
                   part.max[k:k + 1], {(0, j): v for (i, j), v in part.values.items() if i == k})


def table(p: Plan, part: Partial, features: Sequence[int]) -> dict[str, np.ndarray]:
    rows = list(features)
    scale = p.ha_per_cell[rows] if "sum_ha" in p.spec.statistics else None
    return finalize(part, p.spec.statistics, p.spec.quantiles, p.full[rows], scale)


def record(p: Plan, i: int, stats: dict[str, np.ndarray], k: int) -> dict[str, Any]:
    f = p.features[i]
    names = ["datetime", *stats]
    columns = []
    for n in names[1:]:
        a = stats[n][k]
        col = a.tolist()
        if np.isnan(a).any():  # missing: null, never zero
            col = [None if v != v else v for v in col]
        columns.append(col)
    series = [dict(zip(names, row)) for row in zip(p.spec.dates, *columns)]
    props = dict(f.get("properties") or {})
    if "area" in p.spec.statistics:
        props["area_ha"] = p.area_ha[i]
    return {"type": "Feature", "id": f.get("id"), "geometry": f.get("geometry"), "properties": props,
            "series": series}
