"""Mosaic group over HTTP: 12-date median composites and a single scene, ours next to titiler.

One gunicorn worker per server, requests one at a time (latency = service time; titiler's mosaic
reader still reads its scenes on several threads). Per kind of tile:
- cold: the first tile on fresh worker processes (SIGHUP: new workers, so GDAL's caches and our
  dataset handles are empty; the OS page cache is warm). Before it, one DEM tile warms the code
  path (imports, colour maps, PNG encoder) without touching a Sentinel-2 file.
- warm: distinct tiles after a warm-up on other tiles, one keep-alive connection, in two rounds
  that alternate the order of the kinds (background load falls on all alike).
Server CPU is the worker's CPU time (psutil) around the measured requests.

titiler's side reads the same item documents with rio-tiler's STACReader: `/mosaicjson` (a
MosaicJSON of the 12 items, `pixel_selection=median`) and `/stac` (one item); its "per-scene sum"
is 12 single-scene tiles, one per item, counted as one tile. titiler has no scene-classification
masking, so it reads one band less per scene (no SCL) and its median includes clouds.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode

import httpx
import psutil

from . import quiet
from .data import Tile
from .mosaic_data import COLLECTION, SceneSet
from .scenarios import OURS_TMS, run_paths
from .servers import Server

RGB, NDVI2 = ("B04", "B03", "B02"), ("B08", "B04")
RESCALE = (0.0, 0.3)  # reflectance shown as 0..255, our catalog's render default for Sentinel-2
WARM_DEM = (3, 4, 2)  # a DEM tile for the code-path warm-up before a cold tile


@dataclass(frozen=True)
class Kind:
    """One way of asking one server for one kind of tile; `paths(tile)` are the requests it takes
    (12 for titiler's per-scene sum)."""

    name: str
    server: str  # "geodeferred" | "titiler"
    paths: Callable[[Tile], list[str]] = field(compare=False)
    note: str = ""


def _ours(query: dict[str, str]) -> Callable[[Tile], list[str]]:
    tmpl = OURS_TMS.replace("{cid}", COLLECTION)
    return lambda t: [tmpl.format(z=t[0], x=t[1], y=t[2]) + "?" + urlencode(query)]


def _titiler(prefix: str, urls: list[str], query: list[tuple[str, str]]) -> Callable[[Tile], list[str]]:
    tmpl = prefix + "/tiles/WebMercatorQuad/{z}/{x}/{y}.png"
    return lambda t: [tmpl.format(z=t[0], x=t[1], y=t[2]) + "?" + urlencode([("url", u)] + query) for u in urls]


def ours_queries(s: SceneSet) -> dict[str, dict[str, str]]:
    """Our tile queries: the median composites of the 12 dates, and the newest scene alone."""
    span = s.datetime_range
    nd = {"algorithm": "normalized_difference", "a": "B08", "b": "B04", "colormap": "rdylgn", "rescale": "-1,1"}
    rgb = {"bands": ",".join(RGB), "rescale": ",".join(f"{v:g}" for v in RESCALE)}  # titiler gets the same range
    return {"median RGB, 12 dates": {"datetime": span, "mosaic": "median", **rgb},
            "median NDVI, 12 dates": {"datetime": span, "mosaic": "median", "bands": ",".join(NDVI2), **nd},
            "single scene RGB": {"item": s.ids[-1], **rgb}}


def kinds(s: SceneSet, titiler_mosaic: bool) -> list[Kind]:
    """The tiles of the group: ours, then titiler's (mosaic rows only when titiler.mosaic is installed)."""
    ours = [Kind(name, "geodeferred", _ours(q), "SCL-masked" if "mosaic" in q else "")
            for name, q in ours_queries(s).items()]
    lo, hi = (s.stored("B04", v) for v in RESCALE)
    bil = [("resampling", "bilinear"), ("reproject", "bilinear")]  # ours reads reflectance bilinear
    rgb = [("assets", a) for a in s.titiler_assets(RGB)] + [("rescale", f"{lo:g},{hi:g}")] + bil
    ndvi = ([("assets", a) for a in s.titiler_assets(("B04", "B08"))]  # normalizedIndex: (b2-b1)/(b2+b1)
            + [("algorithm", "normalizedIndex"), ("colormap_name", "rdylgn"), ("rescale", "-1,1")] + bil)
    items = [str(p) for p in s.items]
    theirs = []
    if titiler_mosaic:
        med = [("pixel_selection", "median")]
        theirs += [Kind("median RGB, 12 dates", "titiler", _titiler("/mosaicjson", [str(s.mosaicjson)], rgb + med),
                        "MosaicJSON, no cloud mask"),
                   Kind("median NDVI, 12 dates", "titiler", _titiler("/mosaicjson", [str(s.mosaicjson)], ndvi + med),
                        "MosaicJSON, no cloud mask")]
    theirs += [Kind("12 single-scene RGB (sum)", "titiler", _titiler("/stac", items, rgb), "12 /stac tiles"),
               Kind("12 single-scene NDVI (sum)", "titiler", _titiler("/stac", items, ndvi), "12 /stac tiles"),
               Kind("single scene RGB", "titiler", _titiler("/stac", [items[-1]], rgb), "/stac")]
    return ours + theirs


def _worker_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        t = psutil.Process(pid).cpu_times()
        total += t.user + t.system
    return total


def _get(client: httpx.Client, base: str, path: str) -> None:
    r = client.get(base + path, timeout=120)
    if r.status_code != 200 or not r.content.startswith(b"\x89PNG"):
        raise RuntimeError(f"GET {path} -> {r.status_code}: {r.text[:300]}")


def cold(server: Server, kind: Kind, tile: Tile, warm_path: str) -> dict:
    """One cold tile: fresh workers, a DEM tile to warm the code path, then the tile's requests."""
    restart_s = server.restart_workers()
    with httpx.Client() as client:
        _get(client, server.base, warm_path)
        quiet.wait_quiet(3)
        c0 = _worker_cpu(server.worker_pids)
        with quiet.Meter() as m:
            for path in kind.paths(tile):
                _get(client, server.base, path)
        cpu = _worker_cpu(server.worker_pids) - c0
    return {"ms": 1000 * m.wall, "cpu_ms": 1000 * cpu, "restart_s": round(restart_s, 2),
            "other_cores": round(m.other_cores(cpu + m.cpu), 2)}


def warm_round(server: Server, kind: Kind, tiles: list[Tile], warmup: list[Tile], max_seconds: float) -> dict:
    """Distinct tiles one after another on one connection, after a warm-up on other tiles."""
    per = len(kind.paths(tiles[0]))
    q = quiet.wait_quiet(3)
    r = run_paths(server, [p for t in tiles for p in kind.paths(t)], [p for t in warmup for p in kind.paths(t)],
                  concurrency=1, max_count=per * len(tiles), max_seconds=max_seconds,
                  name=f"mosaic-{server.name}-{kind.name.replace(' ', '_').replace(',', '')}")
    lat = r["latencies_ms"]
    n = len(lat) // per  # whole tiles only (the run is time-bounded)
    return {"per_tile_ms": [sum(lat[k * per:(k + 1) * per]) for k in range(n)], "requests": len(lat),
            "cpu_s": sum(r["worker_cpu_s"].values()), "bytes": r["bytes"], "seconds": r["seconds"],
            "other_s": max(0.0, r["machine_busy_s"] - sum(r["worker_cpu_s"].values()) - r["client_cpu_s"]),
            "errors": r["errors"] + r["warmup_errors"], "error_samples": r["error_samples"][:2], "quiet": q}


def aggregate(rounds: list[dict], per: int) -> dict:
    lat = sorted(v for r in rounds for v in r["per_tile_ms"])
    req = max(sum(r["requests"] for r in rounds), 1)
    return {"tiles": len(lat), "rounds": len(rounds), "p50_ms": lat[len(lat) // 2] if lat else None,
            "cpu_ms": 1000 * sum(r["cpu_s"] for r in rounds) / req * per,
            "kb": sum(r["bytes"] for r in rounds) / req / 1024 * per,
            "other_cores": round(sum(r["other_s"] for r in rounds) / max(sum(r["seconds"] for r in rounds), 1e-9), 2),
            "errors": sum(r["errors"] for r in rounds), "error_samples": [e for r in rounds for e in r["error_samples"]][:2]}


def run(ours: Server, tit: Server, s: SceneSet, dem: Path, titiler_mosaic: bool, cold_tiles: list[Tile],
        warm_tiles: list[Tile], warmup: list[Tile], max_seconds: float, deadline: float, rounds: int = 2) -> list[dict]:
    """Cold samples (one per cold tile, fresh workers each), then the warm tiles in `rounds` slices,
    every kind once per round, in reverse order every other round, so that the machine's changing
    background load falls on all kinds alike. Bounded by `deadline` (time.monotonic()): a busy
    machine gets fewer cold samples (at least one per kind) and shorter warm runs."""
    dem_ours = OURS_TMS.format(cid="dem", z=WARM_DEM[0], x=WARM_DEM[1], y=WARM_DEM[2])
    dem_tit = "/tiles/WebMercatorQuad/{}/{}/{}.png?".format(*WARM_DEM) + urlencode({"url": str(dem)})
    todo = kinds(s, titiler_mosaic)
    server = {k: ours if k.server == "geodeferred" else tit for k in todo}
    rows = {k: {"kind": k.name, "server": k.server, "note": k.note, "requests_per_tile": len(k.paths(warm_tiles[0])),
                "path_example": k.paths(warm_tiles[0])[0]} for k in todo}
    print("  cold tiles (fresh workers each) ...", flush=True)
    warm_share = 0.55 * (deadline - time.monotonic())  # kept for the warm runs
    for i, tile in enumerate(cold_tiles):
        if i and time.monotonic() > deadline - warm_share:
            break
        for k in todo:
            try:
                rows[k].setdefault("cold", []).append(cold(server[k], k, tile, dem_ours if server[k] is ours else dem_tit))
            except RuntimeError as e:
                rows[k]["failed"] = str(e)[:500]
    raw: dict[Kind, list[dict]] = {k: [] for k in todo}
    runs_left = rounds * len(todo)
    for r in range(rounds):
        part = warm_tiles[r * len(warm_tiles) // rounds:(r + 1) * len(warm_tiles) // rounds]
        print(f"  warm tiles, round {r + 1}/{rounds} ...", flush=True)
        for k in (todo if r % 2 == 0 else todo[::-1]):
            one = 1.5 * max((c["ms"] for c in rows[k].get("cold", [])), default=0) / 1000  # >= one whole tile
            bound = max(one, min(max_seconds / rounds, max(2.0, (deadline - time.monotonic()) / runs_left)))
            runs_left -= 1
            if "failed" not in rows[k]:
                try:
                    raw[k].append(warm_round(server[k], k, part, warmup if r == 0 else [], bound))
                except RuntimeError as e:
                    rows[k]["failed"] = str(e)[:500]
    for k in todo:
        row = rows[k]
        if "failed" in row:
            print(f"  {k.server:<12} {k.name:<28} FAILED: {row['failed'][:200]}", flush=True)
            continue
        w = row["warm"] = aggregate(raw[k], row["requests_per_tile"])
        colds = ", ".join(f"{c['ms']:.0f}" for c in row["cold"])
        p50 = "-" if w["p50_ms"] is None else f"{w['p50_ms']:.0f}"
        print(f"  {k.server:<12} {k.name:<28} cold {colds} ms, warm p50 {p50} ms ({w['tiles']} tiles, "
              f"{w['errors']} errors)", flush=True)
    return list(rows.values())
