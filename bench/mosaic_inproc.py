"""Mosaic group in process (no HTTP, one thread): the floor, the composite tile, where its time goes.

floor = the sum of the 12 scene reads of a tile: each covering item read by our source's reader
(`Item.read`: the same bands + SCL, scaled to reflectance, onto the tile grid), as the composite
reads them. The composite tile is `app.maps.render_map` of the same request the HTTP server gets
(reads + cloud mask + reducer + colour + PNG). Both warm and alike: dataset handles open, and the
tile rendered once unmeasured first, so that both find its blocks in GDAL's cache (whichever ran
first would otherwise pay the decoding for both); the two alternate in order. CPU is this
process's CPU time (helper threads included) per tile.
"""
from __future__ import annotations

import cProfile
import pstats
import time

from . import quiet
from .data import Tile
from .mosaic import NDVI2, RGB, ours_queries
from .mosaic_data import COLLECTION, SceneSet

# profile buckets: (label, file suffix, function, "ct" cumulative or "tt" own time)
READS = ("scene reads (read_series: 12 x Item.read)", "engine/sources.py", "read_series", "ct")
BUCKETS = (
    ("  GDAL window reads (decode)", "engine/reader.py", "_read_window", "ct"),
    ("  source pixel coordinates", "engine/reader.py", "source_pixels", "ct"),
    ("  resampling gathers", "engine/reader.py", "gather", "tt"),
    ("cloud mask (np.isin on SCL)", "ops/composite.py", "composite", "isin"),
    ("reducer (median)", "ops/composite.py", "composite", "reducer"),
    ("composite kernel, rest (stacks, validity)", "ops/composite.py", "composite", "rest"),
    ("normalized difference", "ops/normalized_difference.py", "normalized_difference", "ct"),
    ("colorize", "app/render.py", "colorize", "ct"),
    ("PNG encode", "app/render.py", "encode", "ct"),
)
REDUCERS = ("nanmedian", "masked_median", "_nanmedian_small")


def _cpu(fn) -> float:
    c = time.process_time()
    fn()
    return 1000 * (time.process_time() - c)


def _median(v: list[float]) -> float:
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def measure(svc, s: SceneSet, tiles: list[Tile], warm: int = 2, seconds: float = 60.0) -> dict:
    """Per kind: median floor and tile CPU ms, and the ratio of their totals (tile / floor)."""
    from app.maps import parse_map_request, render_map
    from app.tiling import tile_grid

    src = svc.lookup(COLLECTION)
    queries = ours_queries(s)
    reads = {"median RGB, 12 dates": RGB + ("SCL",), "median NDVI, 12 dates": NDVI2 + ("SCL",),
             "single scene RGB": RGB}
    out: dict = {}
    for name, q in queries.items():
        quiet.wait_quiet(5)
        req = parse_map_request(svc, COLLECTION, q, "png")
        span = q.get("datetime")
        floor, tile, counts = [], [], set()
        stop = time.monotonic() + seconds / len(queries)  # a busy machine measures fewer tiles (>= 2)
        with quiet.Meter() as m:
            for k, t in enumerate(tiles):
                if k >= warm + 2 and time.monotonic() > stop:
                    break
                grid = tile_grid("WebMercatorQuad", *t)
                items = src.covering(grid, span) if span else [i for i in src.items if i.id == q["item"]]
                counts.add(len(items))
                render_map(svc, req, grid)  # both measured alike: this tile's blocks in GDAL's cache
                if k % 2:  # alternate which goes first
                    r = _cpu(lambda: render_map(svc, req, grid))
                f = sum(_cpu(lambda i=i: i.read(grid, reads[name])) for i in items)
                if not k % 2:
                    r = _cpu(lambda: render_map(svc, req, grid))
                if k >= warm:
                    floor.append(f), tile.append(r)
        out[name] = {"tiles": len(tile), "scenes_per_tile": sorted(counts), "floor_ms": _median(floor),
                     "tile_ms": _median(tile), "ratio": sum(tile) / sum(floor),
                     "other_cores": round(m.other_cores(m.cpu), 2)}
    return out


def profile(svc, s: SceneSet, tiles: list[Tile], name: str) -> dict:
    """cProfile of render_map over `tiles` (warm): ms per tile in each bucket, and its share."""
    from app.maps import parse_map_request, render_map
    from app.tiling import tile_grid

    req = parse_map_request(svc, COLLECTION, ours_queries(s)[name], "png")
    grids = [tile_grid("WebMercatorQuad", *t) for t in tiles]
    for g in grids:  # the same warm state as measure(): handles open, blocks cached
        render_map(svc, req, g)
    prof = cProfile.Profile(time.process_time)  # CPU time: other processes' load does not count
    c0 = time.process_time()
    prof.enable()
    for g in grids:
        render_map(svc, req, g)
    prof.disable()
    total_ms = 1000 * (time.process_time() - c0) / len(grids)
    st = pstats.Stats(prof).stats  # {(file, line, func): (cc, nc, tt, ct, callers)}

    def find(suffix: str, func: str):
        return [v for (f, _, fn), v in st.items() if f.endswith(suffix) and fn == func]

    def ct(suffix: str, func: str) -> float:
        return sum(v[3] for v in find(suffix, func))

    def called_from_composite(func: str) -> float:
        return sum(cv[3] for (f, _, fn), v in st.items() if fn == func
                   for (cf, _, cfn), cv in v[4].items() if cf.endswith("ops/composite.py"))

    scale = 1000 / len(grids)
    comp = ct("ops/composite.py", "composite")
    isin = called_from_composite("isin")
    red = sum(called_from_composite(f) for f in REDUCERS)
    rows = {READS[0]: ct(READS[1], READS[2])}
    for label, suffix, func, how in BUCKETS:
        if how == "ct":
            v = ct(suffix, func)
        elif how == "tt":
            v = sum(x[2] for x in find(suffix, func))
        else:
            v = {"isin": isin, "reducer": red, "rest": comp - isin - red}[how]
        rows[label] = v
    top = sum(v for k, v in rows.items() if not k.startswith("  "))
    profiled = sum(v[2] for v in st.values())
    rows["other (graph, Python, numpy glue)"] = profiled - top
    return {"tile": name, "tiles": len(grids), "profiled_ms_per_tile": profiled * scale,
            "cpu_ms_per_tile_under_profiler": total_ms,
            "buckets": {k: {"ms": v * scale, "share": v / profiled} for k, v in rows.items()}}
