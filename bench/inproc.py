"""In-process measurements (no HTTP): where a tile's time goes, small vs large DEM, region throughput.

Our side runs the service's own code path (app.maps.parse_map_request/render_map on the same
Services the web workers build), split into stages; the baseline side runs titiler's own pieces
(rio-tiler Reader.tile, titiler's algorithm, titiler's render_image) the way its tile endpoint does.
"""
from __future__ import annotations

import functools
import statistics
import time
import warnings
from pathlib import Path
from typing import Callable

import psutil

from . import quiet
from .data import CATALOG, DATA_DIR, JOBS_DIR, Tile

GRAPH3 = {"data": {"process": "hillshade", "inputs": {"data": {"collection": "{cid}"}}}}


def _median_ms(fn: Callable[[Tile], object], tiles: list[Tile], warm: int = 3) -> dict[str, float]:
    """Median CPU ms (this process, helper threads included) and wall ms per tile, and the cores other
    processes used meanwhile. CPU time is the headline: it does not count the time another process
    held the core, but it does count BLAS or GDAL helper threads."""
    quiet.wait_quiet(8)
    for t in tiles[:warm]:
        fn(t)
    cpu, wall = [], []
    with quiet.Meter() as m:
        for t in tiles:
            t0, c0 = time.perf_counter(), time.process_time()
            fn(t)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - t0)
    return {"cpu_ms": 1000 * statistics.median(cpu), "wall_ms": 1000 * statistics.median(wall),
            "other_cores": round(m.other_cores(m.cpu), 2)}


def services(small_width: int):
    from app.main import build_services
    from app.settings import Settings

    return build_services(Settings(catalog=CATALOG, data_dir=DATA_DIR, jobs_dir=JOBS_DIR, dem_width=small_width,
                                   executor="inline", tile_cache_entries=0))


def ours_stages(svc, cid: str, tiles: list[Tile]) -> dict[str, float]:
    """Median ms per tile of each stage of our tile path, on collection `cid` (a DEM)."""
    from app import render
    from app.maps import MapRequest, parse_map_request, render_map
    from app.tiling import tile_grid
    from processes.engine.evaluate import evaluate
    from processes.engine.graph import CollectionNode, parse_process

    grid = lambda t: tile_grid("WebMercatorQuad", t[0], t[1], t[2])  # noqa: E731
    hill = parse_map_request(svc, cid, {"algorithm": "hillshade"}, "png")
    elev = parse_map_request(svc, cid, {}, "png")
    g3 = parse_process("slope", {"data": {"process": "hillshade", "inputs": {"data": {"collection": cid}}}}, svc.resolve)
    graph3 = MapRequest(f"{cid}-graph3", g3, None, None, None, 0.0, "png")
    shaded = {t: evaluate([hill.algorithm], grid(t), svc.lookup)[0] for t in tiles[:50]}

    def encode_only(t: Tile) -> bytes:
        r = shaded[t]
        return render.encode(render.colorize(r, (0.0, 255.0), None), r.mask, "png")

    return {
        "read (CollectionNode)": _median_ms(lambda t: evaluate([CollectionNode(cid)], grid(t), svc.lookup), tiles),
        "hillshade evaluate": _median_ms(lambda t: evaluate([hill.algorithm], grid(t), svc.lookup), tiles),
        "colorize+PNG of a hillshade": _median_ms(encode_only, list(shaded)),
        "hillshade tile (render_map)": _median_ms(lambda t: render_map(svc, hill, grid(t)), tiles),
        "elevation tile (render_map)": _median_ms(lambda t: render_map(svc, elev, grid(t)), tiles),
        "3-node graph tile (render_map)": _median_ms(lambda t: render_map(svc, graph3, grid(t)), tiles),
    }


def ours_ndvi(svc, tiles: list[Tile]) -> dict[str, dict]:
    """Our NDVI tile as the bench asks for it, and with the two bands named (&bands=B08,B04)."""
    from app.maps import parse_map_request, render_map
    from app.tiling import tile_grid

    q = {"algorithm": "normalized_difference", "a": "B08", "b": "B04", "colormap": "rdylgn", "rescale": "-1,1"}
    req = parse_map_request(svc, "s2scene", q, "png")
    two = parse_map_request(svc, "s2scene", q | {"bands": "B08,B04"}, "png")
    return {"NDVI tile (render_map)": _median_ms(lambda t: render_map(svc, req, tile_grid("WebMercatorQuad", *t)), tiles),
            "NDVI tile (render_map), &bands=B08,B04": _median_ms(
                lambda t: render_map(svc, two, tile_grid("WebMercatorQuad", *t)), tiles)}


def threaded(fn: Callable[[Tile], object], tiles: list[Tile], threads: int) -> dict[str, float]:
    """Process CPU ms per tile when `threads` threads of one process render tiles concurrently
    (as a web worker's thread pool does under `threads` concurrent requests)."""
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(threads) as ex:
        list(ex.map(fn, tiles[: 2 * threads]))  # every thread warm
        quiet.wait_quiet(8)
        with quiet.Meter() as m:
            list(ex.map(fn, tiles))
    return {"cpu_ms": 1000 * m.cpu / len(tiles), "wall_ms": 1000 * m.wall / len(tiles),
            "cores": round(m.cpu / m.wall, 2), "other_cores": round(m.other_cores(m.cpu), 2)}


def thread_cost(svc, cog: Path, tiles: list[Tile], threads: int, resampling: str) -> dict[str, dict]:
    """Hillshade tiles from 1 and from `threads` threads of one process, ours and titiler's pieces."""
    from app.maps import parse_map_request, render_map
    from app.tiling import tile_grid
    from rio_tiler.io import Reader
    from titiler.core.algorithm import algorithms
    from titiler.core.resources.enums import ImageType
    from titiler.core.utils import render_image

    req = parse_map_request(svc, "dem", {"algorithm": "hillshade"}, "png")
    hillshade = algorithms.get("hillshade")(buffer=3)

    def ours(t: Tile) -> bytes:
        return render_map(svc, req, tile_grid("WebMercatorQuad", *t))

    def theirs(t: Tile) -> bytes:
        with Reader(str(cog)) as r:
            img = r.tile(t[1], t[2], t[0], buffer=3, resampling_method=resampling, reproject_method=resampling)
        return render_image(hillshade(img), output_format=ImageType.png)[0]

    return {"geodeferred hillshade tile (render_map)": {"1 thread": threaded(ours, tiles, 1),
                                                        f"{threads} threads": threaded(ours, tiles, threads)},
            "titiler hillshade tile (read+algorithm+render)": {"1 thread": threaded(theirs, tiles, 1),
                                                               f"{threads} threads": threaded(theirs, tiles, threads)}}


def titiler_stages(cog: Path, tiles: list[Tile], resampling: str) -> dict[str, float]:
    """Median ms per tile of titiler's pieces, opening the dataset per tile as its endpoint does."""
    from rio_tiler.io import Reader
    from titiler.core.algorithm import algorithms
    from titiler.core.resources.enums import ImageType
    from titiler.core.utils import render_image
    from rio_tiler.colormap import cmap

    hillshade = algorithms.get("hillshade")(buffer=3)
    terrain = cmap.get("terrain")
    rs = {"resampling_method": resampling, "reproject_method": resampling}
    warnings.filterwarnings("ignore", category=UserWarning, module="rio_tiler")

    def read_open(t: Tile):
        with Reader(str(cog)) as r:
            return r.tile(t[1], t[2], t[0], **rs)

    opened = Reader(str(cog))

    def hill_tile(t: Tile) -> bytes:
        with Reader(str(cog)) as r:
            img = r.tile(t[1], t[2], t[0], buffer=3, **rs)
        return render_image(hillshade(img), output_format=ImageType.png)[0]

    def elev_tile(t: Tile) -> bytes:
        with Reader(str(cog)) as r:
            img = r.tile(t[1], t[2], t[0], **rs)
        return render_image(img, colormap=terrain, rescale=[(-6000, 6000)], output_format=ImageType.png)[0]

    try:
        return {
            "rio-tiler Reader(cog).tile (open per tile)": _median_ms(read_open, tiles),
            "rio-tiler tile on an open Reader": _median_ms(lambda t: opened.tile(t[1], t[2], t[0], **rs), tiles),
            "titiler hillshade tile (read+algorithm+render)": _median_ms(hill_tile, tiles),
            "titiler elevation tile (read+render)": _median_ms(elev_tile, tiles),
        }
    finally:
        opened.close()


def titiler_ndvi(cog: Path, tiles: list[Tile], expression: str, resampling: str) -> dict[str, float]:
    from rio_tiler.colormap import cmap
    from rio_tiler.io import Reader
    from titiler.core.resources.enums import ImageType
    from titiler.core.utils import render_image

    rdylgn = cmap.get("rdylgn")

    def ndvi_tile(t: Tile) -> bytes:
        with Reader(str(cog)) as r:
            img = r.tile(t[1], t[2], t[0], expression=expression, resampling_method=resampling,
                         reproject_method=resampling)
        return render_image(img, colormap=rdylgn, rescale=[(-1, 1)], output_format=ImageType.png)[0]

    return {"titiler NDVI tile (read+expression+render)": _median_ms(ndvi_tile, tiles)}


def region_throughput(svc, cid: str, side: int | None, repeats: int, chunk: int | None = None,
                      specs: tuple[str, ...] = ("process:1", "process:2", "process:4",
                                                "dask:1", "dask:2", "dask:4")) -> dict:
    """Pixels/s of a job's work, the 3-node graph over a side x side region (None: the whole globe)
    at the DEM's native resolution written to its GeoTIFF: `processes.execute.produce`, as a
    job's coordinator runs it. Its chunks (default: the service's REGION_CHUNK) are computed and
    compressed by the executor's workers (local process pools, and dask clusters of a scheduler
    process and 1, 2, 4 single-threaded worker processes; bench.executors), started and warmed
    before timing; the coordinator appends the tiles to the file."""
    import tempfile
    from pathlib import Path

    from app.settings import Settings
    from processes.engine.graph import parse_process
    from processes.engine.region import Region
    from processes.execute import produce

    from .executors import executor

    chunk = chunk or Settings().region_chunk
    res = svc.catalog.rasters[cid].resolution
    if side is None:
        w = round(360 / res)
        region = Region("EPSG:4326", (-180.0, -90.0, 180.0, 90.0), w, w // 2)
    else:
        lon0, lat0 = -10.0, 5.0
        region = Region("EPSG:4326", (lon0, lat0, lon0 + side * res, lat0 + side * res), side, side)
    side_w, side_h = region.width, region.height
    node = parse_process("slope", {"data": {"process": "hillshade", "inputs": {"data": {"collection": cid}}}},
                         svc.resolve)
    lookup = {cid: svc.lookup(cid)}.__getitem__
    out: dict = {"collection": cid, "region_px": [side_w, side_h], "bounds": list(region.bbox), "chunk_size": chunk,
                 "graph": "slope(hillshade(dem))", "output": "GeoTIFF (deflate, floating-point predictor)",
                 "specs": list(specs)}
    with tempfile.TemporaryDirectory(prefix="bench-region-") as tmp:
        dest = Path(tmp)
        for spec in specs:
            runs = []
            with executor(spec) as ex:
                produce(node, region, ["result"], lookup, ex, dest, chunk=chunk)  # warm, one whole run: workers
                pool = psutil.Process().children(recursive=True)                  # started, files opened, page cache
                for _ in range(repeats):
                    q = quiet.wait_quiet()
                    k0 = _cpu(pool)
                    with quiet.Meter() as m:
                        produce(node, region, ["result"], lookup, ex, dest, chunk=chunk)
                    kids = _cpu(pool) - k0
                    runs.append({"wall_s": round(m.wall, 3), "parent_cpu_s": round(m.cpu, 3),
                                 "pool_cpu_s": round(kids, 3), "other_cores": round(m.other_cores(m.cpu + kids), 2),
                                 "quiet": q, "file_mb": round((dest / "result.tif").stat().st_size / 1e6, 1)})
            best = min(runs, key=lambda x: x["wall_s"])
            out[spec] = {"runs": runs, "best_s": best["wall_s"], "mpx_per_s": side_w * side_h / best["wall_s"] / 1e6,
                         "other_cores_best": best["other_cores"]}
    out["ceiling"] = _scaling_ceiling(node, region, lookup, chunk, repeats)
    mpx = {s: out[s]["mpx_per_s"] for s in specs}
    out["speedup"] = mpx["process:2"] / mpx["process:1"]
    out["dask_speedup"] = mpx["dask:2"] / mpx["dask:1"]
    out["pool_over_dask"] = {n: mpx[f"process:{n}"] / mpx[f"dask:{n}"] for n in (1, 2, 4)}
    return out


def _encode_and_drop(task) -> None:
    """A job's chunk task (evaluate, then compress into GeoTIFF tiles) with nothing sent back."""
    from processes import outputs
    from processes.engine.region import evaluate_chunk

    chunk, block = task
    evaluate_chunk(chunk, then=functools.partial(outputs.encode, block, False))


def _scaling_ceiling(node, region, lookup, chunk: int, repeats: int) -> dict:
    """What this machine's cores allow: the same chunk tasks in pools of 1 and 2 processes, every
    worker dropping its result (no transfer, no coordinator, no file). process:2 / process:1 cannot
    beat this ratio; on 2 vCPUs that share a host it is below 2."""
    from processes import geotiff
    from processes.engine.executor import ProcessExecutor
    from processes.engine.graph import collections_of
    from processes.engine.region import Chunk, chunks

    grid = region.grid()
    colls = {c: lookup(c) for c in sorted(collections_of(node))}
    block = geotiff.block_for(chunk, grid.width, grid.height)
    tasks = [(Chunk((node,), grid.window(c, r, w, h), colls, c, r), block) for c, r, w, h in chunks(grid, chunk)]
    wall = {}
    for n in (1, 2):
        ex = ProcessExecutor(n)
        try:
            ex.map(_encode_and_drop, tasks)  # warm
            runs = []
            for _ in range(repeats):
                quiet.wait_quiet()
                t = time.perf_counter()
                ex.map(_encode_and_drop, tasks)
                runs.append(time.perf_counter() - t)
            wall[n] = min(runs)
        finally:
            ex.shutdown()
    return {"wall_s": {str(n): round(v, 3) for n, v in wall.items()}, "speedup": wall[1] / wall[2]}


def _cpu(procs) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def blas_probe(tiles: int) -> dict:
    """NDVI tile cost in a fresh process with the environment as it is and with OPENBLAS_NUM_THREADS=1."""
    import json
    import os
    import resource
    import subprocess
    import sys

    from .data import ROOT

    out = {}
    for label, extra in (("as is", {}), ("OPENBLAS_NUM_THREADS=1", {"OPENBLAS_NUM_THREADS": "1"})):
        env = dict(os.environ) | extra
        quiet.wait_quiet(8)
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        with quiet.Meter() as m:
            p = subprocess.run([sys.executable, "-m", "bench.blas_probe", str(tiles)], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            out[label] = {"error": p.stderr[-500:]}
            continue
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = json.loads(p.stdout)
        r["other_cores"] = round(m.other_cores(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime), 2)
        out[label] = r
    return out
