"""`python -m bench [--quick]`: geodeferred against titiler on the same COGs, tiles and 2 cores.

Prints tables and writes bench/out/results.json. See bench/README.md for what each number means.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from . import data as D
from . import inproc, mosaic_data, mosaic_group, quiet, report, scenarios, servers

OUT = Path(__file__).resolve().parent / "out"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="short smoke run (~1 min)")
    p.add_argument("--resampling", choices=["nearest", "bilinear"], default="nearest",
                   help="resampling on both sides (default: nearest, titiler's default)")
    p.add_argument("--small-width", type=int, default=4320)
    p.add_argument("--large-width", type=int, default=43200)
    p.add_argument("--concurrency", type=int, default=8, help="keep-alive connections of the load generator")
    p.add_argument("--count", type=int, help="tiles per HTTP scenario (default 600, quick 120)")
    p.add_argument("--seconds", type=float, help="time bound per HTTP scenario (default 20, quick 5)")
    p.add_argument("--rounds", type=int, help="alternating rounds per HTTP scenario (default 3, quick 2)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers of each server")
    p.add_argument("--openblas-threads", type=int, help="set OPENBLAS_NUM_THREADS in both servers (default: as is)")
    p.add_argument("--skip-http", action="store_true")
    p.add_argument("--skip-inproc", action="store_true")
    p.add_argument("--skip-mosaic", action="store_true", help="skip the Sentinel-2 mosaic group")
    p.add_argument("--mosaic-only", action="store_true",
                   help="only the Sentinel-2 mosaic group (no large DEM needed; about 2-3 min)")
    p.add_argument("--skip-ml", action="store_true", help="skip the classification benchmark (bench/ml.py)")
    a = p.parse_args(argv)
    a.count = a.count or (120 if a.quick else 600)
    a.seconds = a.seconds or (5.0 if a.quick else 20.0)
    a.inproc_tiles = 40 if a.quick else 200
    a.region_side = 2048 if a.quick else 4096
    a.region_repeats = 1 if a.quick else 3
    a.warmup = 16 if a.quick else 32
    a.rounds = a.rounds or (2 if a.quick else 3)
    if a.mosaic_only:
        a.skip_http = a.skip_inproc = True
    return a


def environment_notes() -> dict:
    import numpy
    import rasterio
    import rio_tiler
    import titiler.core

    blas = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")}
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "numpy": numpy.__version__,
            "rasterio": rasterio.__version__, "gdal": rasterio.__gdal_version__, "rio_tiler": rio_tiler.__version__,
            "titiler_core": titiler.core.__version__, "openblas_env": blas, "git": git_state(),
            "openblas_note": ("OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are not set here: nothing to unset"
                              if not (blas["OPENBLAS_CORETYPE"] or blas["OPENBLAS_L2_SIZE"]) else
                              "OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are set and left as they are")}


def git_state() -> dict:
    """The commit measured and whether the work tree differed from it (read-only git commands)."""
    import subprocess

    def git(*args: str) -> str:
        p = subprocess.run(["git", *args], cwd=D.ROOT, capture_output=True, text=True)
        return p.stdout.rstrip() if p.returncode == 0 else ""

    changed = [line[3:] for line in git("--no-optional-locks", "status", "--porcelain").splitlines() if not line[3:].startswith("bench/")]
    return {"head": git("rev-parse", "--short", "HEAD"), "changed_files": changed}


def warm_tiles(make, n: int, exclude: list) -> list:
    seen = set(exclude)
    return [t for t in make(4 * n, 9999) if t not in seen][:n]


def http_part(a, data: D.BenchData) -> tuple[list[dict], dict]:
    small, large = str(data.small_dem), str(data.large_dem)
    s2 = str(data.s2_cog)
    nir, red = D.s2_band_index(data.s2_cog, "B08"), D.s2_band_index(data.s2_cog, "B04")
    rs = {} if a.resampling == "nearest" else {"resampling": a.resampling, "reproject": a.resampling}
    lists = {"elevation": D.dem_tiles(a.count, 1), "hillshade": D.dem_tiles(a.count, 2),
             "graph3": D.dem_tiles(a.count, 3)}
    ndvi_tiles = D.scene_tiles(data.s2_cog, a.count, 4)
    dem_warm = warm_tiles(D.dem_tiles, a.warmup, sum(lists.values(), []))
    s2_warm = [t for t in D.scene_tiles(data.s2_cog, 4 * a.warmup, 99) if t not in set(ndvi_tiles)][:a.warmup]
    extra = {"OPENBLAS_NUM_THREADS": str(a.openblas_threads)} if a.openblas_threads else {}
    ours_srv = servers.start_ours(a.workers, data.small_width, extra)
    tit_srv = servers.start_titiler(a.workers, extra)
    info = {"tile_lists": {k: len(v) for k, v in lists.items()} | {"ndvi": len(ndvi_tiles)},
            "ndvi_expression": f"(b{nir}-b{red})/(b{nir}+b{red})", "servers": {}}
    rows: list[dict] = []
    try:
        for srv in (ours_srv, tit_srv):
            info["servers"][srv.name] = {"workers": srv.worker_pids, "log": str(srv.log)}
        gids = {"small": scenarios.create_graph3(ours_srv, "dem"), "large": scenarios.create_graph3(ours_srv, "dem_large")}
        info["graph3_collections"] = gids
        plan = []
        for size, cid, cog in (("small", "dem", small), ("large", "dem_large", large)):
            plan.append((f"elevation {size}", lists["elevation"], dem_warm, scenarios.ours(cid),
                         scenarios.titiler(cog, {"colormap_name": "terrain", "rescale": "-6000,6000", **rs})))
            plan.append((f"hillshade {size}", lists["hillshade"], dem_warm, scenarios.ours(cid, {"algorithm": "hillshade"}),
                         scenarios.titiler(cog, {"algorithm": "hillshade", "buffer": "3", **rs})))
            plan.append((f"3-node graph {size}", lists["graph3"], dem_warm, scenarios.ours(gids[size]), None))
        plan.append(("NDVI S2 scene", ndvi_tiles, s2_warm,
                     scenarios.ours("s2scene", {"algorithm": "normalized_difference", "a": "B08", "b": "B04",
                                                "colormap": "rdylgn", "rescale": "-1,1"}),
                     scenarios.titiler(s2, {"expression": info["ndvi_expression"], "rescale": "-1,1",
                                            "colormap_name": "rdylgn", **rs})))
        for name, tiles, warm, t_ours, t_tit in plan:
            pair = [(srv, t) for srv, t in ((ours_srv, t_ours), (tit_srv, t_tit)) if t is not None]
            found = {srv.name: scenarios.preflight(srv, t, tiles[0]) for srv, t in pair}
            runnable = [(srv, t) for srv, t in pair if not found[srv.name]]
            print(f"  {name:<22}", end="", flush=True)
            res = scenarios.run_scenario(name, runnable, tiles, warm, rounds=a.rounds, concurrency=a.concurrency,
                                         max_count=a.count, max_seconds=a.seconds) if runnable else {}
            group = []
            for srv, t in pair:
                row = {"scenario": name, "server": srv.name, "path_example": t.path(tiles[0])}
                if found[srv.name]:
                    row["failed"] = found[srv.name]
                else:
                    row["result"] = res[srv.name]
                    print(f" {srv.name} {res[srv.name]['tiles_per_s']:.1f} tiles/s ({res[srv.name]['errors']} errors)",
                          end="", flush=True)
                group.append(row)
            print(flush=True)
            if len(group) == 2 and all("result" in r for r in group):
                ours_m, tit_m = group[0]["result"], group[1]["result"]
                group[0]["ratio"] = ours_m["tiles_per_s"] / max(tit_m["tiles_per_s"], 1e-9)
                group[0]["cpu_ratio"] = tit_m["server_cpu_ms_per_tile"] / max(ours_m["server_cpu_ms_per_tile"], 1e-9)
            rows += group
    finally:
        ours_srv.stop()
        tit_srv.stop()
    return rows, info


def inproc_part(a, data: D.BenchData) -> dict:
    tiles = D.dem_tiles(a.count, 2)[: a.inproc_tiles]
    s2_tiles = D.scene_tiles(data.s2_cog, a.count, 4)[: a.inproc_tiles]
    svc = inproc.services(data.small_width)
    ours: dict[str, dict[str, float]] = {}
    base: dict[str, dict[str, float]] = {}
    for label, cid, cog in (("small DEM", "dem", data.small_dem), ("large DEM", "dem_large", data.large_dem)):
        print(f"  in-process stages, {label} ...", flush=True)
        for k, v in inproc.ours_stages(svc, cid, tiles).items():
            ours.setdefault(k, {})[label] = v
        for k, v in inproc.titiler_stages(cog, tiles, a.resampling).items():
            base.setdefault(k, {})[label] = v
    nir, red = D.s2_band_index(data.s2_cog, "B08"), D.s2_band_index(data.s2_cog, "B04")
    ndvi = inproc.ours_ndvi(svc, s2_tiles) | inproc.titiler_ndvi(data.s2_cog, s2_tiles,
                                                                  f"(b{nir}-b{red})/(b{nir}+b{red})", a.resampling)
    print("  OpenBLAS threads probe ...", flush=True)
    blas = inproc.blas_probe(a.inproc_tiles)
    print("  threads ...", flush=True)
    threads = inproc.thread_cost(svc, data.small_dem, tiles, a.concurrency, a.resampling)
    print("  region throughput ...", flush=True)
    region = inproc.region_throughput(svc, "dem_large", a.region_side, a.region_repeats)
    return {"tiles": len(tiles), "ours_ms": ours, "titiler_ms": base, "ndvi_ms": {k: {"S2 scene": v} for k, v in ndvi.items()},
            "threads": threads, "blas_probe": blas, "region": region}


def targets(rows: list[dict], ip: dict | None) -> list[dict]:
    by = {(r["scenario"], r["server"]): r for r in rows}
    out = []

    def ratio(scn: str) -> float | None:
        r = by.get((scn, "geodeferred"))
        return r.get("ratio") if r else None

    for scn, need, name in (("hillshade small", 3.0, "hillshade tiles/s ours/titiler, small DEM"),
                            ("hillshade large", 3.0, "hillshade tiles/s ours/titiler, large DEM"),
                            ("NDVI S2 scene", 2.0, "NDVI tiles/s ours/titiler, one S2 scene COG")):
        v = ratio(scn)
        out.append({"name": name, "value": v, "needs": f">= {need:.0f}x", "met": None if v is None else v >= need,
                    "fmt": "{:.2f}x"})

    for scn, name in (("hillshade small", "hillshade, small DEM"), ("hillshade large", "hillshade, large DEM"),
                      ("NDVI S2 scene", "NDVI")):
        r = by.get((scn, "geodeferred"))
        v = r.get("cpu_ratio") if r else None
        out.append({"name": f"server CPU per tile titiler/ours, {name}",
                    "value": v, "needs": "(info)", "met": None, "fmt": "{:.2f}x"})

    def cpu_tile(scn: str) -> float | None:
        r = by.get((scn, "geodeferred"))
        return r["result"]["server_cpu_ms_per_tile"] if r and "result" in r else None

    for kind in ("elevation", "hillshade", "3-node graph"):
        s, l = cpu_tile(f"{kind} small"), cpu_tile(f"{kind} large")
        v = l / s if s and l else None
        out.append({"name": f"{kind} tile cost large/small DEM (HTTP server CPU/tile)", "value": v,
                    "needs": f"<= {report.FLAT_MAX}", "met": None if v is None else v <= report.FLAT_MAX})
    if ip:
        for stage in ("hillshade tile (render_map)", "3-node graph tile (render_map)"):
            vals = ip["ours_ms"].get(stage, {})
            v = vals["large DEM"]["cpu_ms"] / vals["small DEM"]["cpu_ms"] if vals.get("small DEM") else None
            out.append({"name": f"{stage.split(' (')[0]} cost large/small DEM (in-process CPU)", "value": v,
                        "needs": f"<= {report.FLAT_MAX}", "met": None if v is None else v <= report.FLAT_MAX})
    for server in ("geodeferred", "titiler"):
        shares = [x for r in rows if r["server"] == server and "result" in r for x in r["result"]["round_less_busy_share"]]
        if shares:
            v = sum(x >= report.BUSY_MIN for x in shares) / len(shares)
            out.append({"name": f"both workers busy, {server}: rounds with less busy worker >= "
                                f"{report.BUSY_MIN:.0%}", "value": v, "needs": "1.00" if server ==
                        "geodeferred" else "(info)", "met": (v == 1.0) if server == "geodeferred" else None,
                        "fmt": "{:.2f}" + f" of {len(shares)}"})
    if ip:
        v = ip["region"]["speedup"]
        out.append({"name": "region throughput speed-up process:2/process:1", "value": v,
                    "needs": ">= 1.8x", "met": v >= 1.8, "fmt": "{:.2f}x"})
        v = ip["region"]["ceiling"]["speedup"]
        out.append({"name": "  this machine's ceiling for it (same tasks, nothing sent back)", "value": v,
                    "needs": "(info)", "met": None, "fmt": "{:.2f}x"})
        v = ip["region"]["pool_over_dask"][2]
        out.append({"name": "region throughput local pool / dask, 2 workers", "value": v,
                    "needs": "<= 1.3x", "met": v <= 1.3, "fmt": "{:.2f}x"})
    disturbed = [f"{r['scenario']}/{r['server']}" for r in rows if "result" in r
                 and r["result"]["other_cores"] > report.DISTURBED]
    out.append({"name": f"HTTP measurements disturbed (other processes > {report.DISTURBED} cores)",
                "value": len(disturbed), "needs": "0", "met": not disturbed, "fmt": "{:.0f}" + f" of {len(rows)}"})
    errors = sum(r["result"]["errors"] + r["result"]["warmup_errors"] for r in rows if "result" in r)
    failed = sum(1 for r in rows if r.get("failed"))
    out.append({"name": "HTTP errors (warm-up included) / failed scenarios", "value": errors,
                "needs": "0", "met": errors == 0 and failed == 0, "fmt": "{:.0f}" + f" / {failed}"})
    return out


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    t0 = time.perf_counter()
    data = D.build(a.small_width, a.large_width, large=not a.mosaic_only)
    scenes = None if a.skip_mosaic else mosaic_data.build(data.small_dem.parent / "sentinel2")
    D.write_catalog(data, a.resampling, scenes.folder if scenes else None)
    t_data = time.perf_counter() - t0
    results: dict = {"args": {k: v for k, v in vars(a).items()}, "env": environment_notes(),
                     "data": {"small_dem": str(data.small_dem), "large_dem": str(data.large_dem),
                              "s2_cog": str(data.s2_cog), "build_s": data.build_seconds}}
    rows: list[dict] = []
    ip = None
    if not a.skip_http:
        print("HTTP scenarios (each: warm-up, then the measured tiles over "
              f"{a.concurrency} keep-alive connections, <= {a.count} tiles or {a.seconds:.0f} s)", flush=True)
        rows, info = http_part(a, data)
        results["http"] = rows
        results["http_info"] = info
    if not a.skip_inproc:
        print("In-process measurements", flush=True)
        ip = inproc_part(a, data)
        results["inproc"] = ip
    if scenes is not None:
        print("Mosaic group (12-date median composites and a single scene, ours and titiler)", flush=True)
        results["mosaic"] = mosaic_group.run(data, scenes, a.quick)
    if not (a.skip_ml or a.mosaic_only):
        from . import ml

        print("Classification", flush=True)
        results["ml"] = ml.run()
        ml.print_report(results["ml"])
    results["targets"] = (targets(rows, ip) if rows or ip else []) + (
        mosaic_group.targets(results["mosaic"]) if "mosaic" in results else [])
    results["seconds"] = {"data": round(t_data, 1), "total": round(time.perf_counter() - t0, 1)}
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2, default=str))

    print()
    env = results["env"]
    print(f"geodeferred vs titiler {env['titiler_core']} (rio-tiler {env['rio_tiler']}, GDAL {env['gdal']}), "
          f"{env['cpus']} CPUs, {a.workers} gunicorn workers each, resampling {a.resampling} on both sides")
    g = env["git"]
    print(f"code: {g['head']}" + (f" + uncommitted changes in {', '.join(g['changed_files'])}" if g["changed_files"] else "")
          + (f"; OPENBLAS_NUM_THREADS={a.openblas_threads} in both servers" if a.openblas_threads else ""))
    print(f"DEMs: {data.small_width}x{data.small_width // 2} and {data.large_width}x{data.large_width // 2}; "
          f"S2 scene: {data.s2_cog.name}; data build: {data.build_seconds}; {env['openblas_note']}")
    if rows:
        print("\n" + report.http_table(rows))
    if ip:
        print(f"\nIn-process, median CPU ms per tile (one thread) over {ip['tiles']} hillshade-list tiles (z 2..9); "
              "other = cores used meanwhile by other processes (! = disturbed):")
        print(report.stage_table("geodeferred (service code path, no HTTP)", ip["ours_ms"], ["small DEM", "large DEM"]))
        print()
        print(report.stage_table("titiler pieces (open per tile, as its endpoint)", ip["titiler_ms"],
                                 ["small DEM", "large DEM"]))
        print()
        print(report.stage_table("NDVI on one S2 scene (z 11..15)", ip["ndvi_ms"], ["S2 scene"]))
        print()
        print("NDVI tile (render_map) in a fresh process, by OpenBLAS thread setting:")
        for label, r in ip["blas_probe"].items():
            if "error" in r:
                print(f"  {label:<26} failed: {r['error'][-200:]}")
            else:
                print(f"  {label:<26} process CPU {r['cpu_ms']:.2f} ms/tile, wall {r['wall_ms']:.2f} ms/tile, "
                      f"other {r['other_cores']:.2f}{'!' if r['other_cores'] > report.DISTURBED else ''}")
        print()
        print(f"Process CPU ms per tile, small DEM, 1 thread vs {a.concurrency} threads rendering at once in one "
              "process (a web worker under load):")
        print(report.stage_table("hillshade tiles", ip["threads"], ["1 thread", f"{a.concurrency} threads"]))
        print()
        print(report.region_table(ip["region"]))
    if "mosaic" in results:
        print("\n" + mosaic_group.report(results["mosaic"]))
    print("\n" + report.targets_table(results["targets"]))
    print(f"(quiet-machine waits: {quiet.BUDGET - quiet.budget_left():.0f} s of the {quiet.BUDGET:.0f} s budget used)")
    print(f"\nresults: {OUT / 'results.json'}  (run took {results['seconds']['total']:.0f} s, "
          f"data {results['seconds']['data']:.0f} s)")
    return 0


if __name__ == "__main__":  # the guard process executors (forkserver) need
    sys.exit(main())
