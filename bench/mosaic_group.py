"""The mosaic group of `python -m bench`: 12-date median composites and a single Sentinel-2 scene,
ours next to titiler, the floor (sum of the 12 scene reads) and where a composite tile's time goes.
See bench/README.md ("Mosaic group") for what each number means."""
from __future__ import annotations

import time

import httpx

from . import inproc, mosaic, mosaic_data, mosaic_inproc, quiet, servers
from .data import BenchData
from .report import DISTURBED, _f

TARGET_RATIO = 1.5  # issue 7: a 12-date composite tile costs at most 1.5x the sum of its scene reads
COMPOSITES = ("median RGB, 12 dates", "median NDVI, 12 dates")
SUMS = {"median RGB, 12 dates": "12 single-scene RGB (sum)", "median NDVI, 12 dates": "12 single-scene NDVI (sum)"}


def settings(quick: bool) -> dict:
    """Tiles per measurement, the time bound of each warm run and of all quiet-machine waits (s)."""
    return ({"cold": 1, "warm": 4, "warmup": 2, "inproc": 4, "profile": 3, "seconds": 8.0, "quiet_s": 10.0,
             "http_s": 60.0, "inproc_s": 15.0} if quick else
            {"cold": 2, "warm": 8, "warmup": 2, "inproc": 6, "profile": 4, "seconds": 16.0, "quiet_s": 20.0,
             "http_s": 100.0, "inproc_s": 30.0})


def run(data: BenchData, scenes: mosaic_data.SceneSet, quick: bool) -> dict:
    cfg = settings(quick)
    t0 = time.perf_counter()
    pool = mosaic_data.tiles(scenes, 400, 12)
    cut = [cfg["cold"], cfg["warmup"], cfg["warm"], cfg["inproc"] + 2, cfg["profile"]]
    parts, k = [], 0
    for n in cut:
        parts.append(pool[k:k + n])
        k += n
    cold_tiles, warmup, warm_tiles, ip_tiles, prof_tiles = parts
    ours = servers.start_ours(1, data.small_width, preload=True)
    try:
        tit = servers.start_titiler(1, preload=True)
    except Exception:
        ours.stop()
        raise
    try:
        has_mosaic = (scenes.mosaicjson is not None
                      and httpx.get(tit.base + "/healthz", timeout=10).json().get("mosaic") == "yes")
        with quiet.capped(cfg["quiet_s"]):
            rows = mosaic.run(ours, tit, scenes, data.small_dem, has_mosaic, cold_tiles, warm_tiles, warmup,
                              cfg["seconds"], deadline=t0 + cfg["http_s"])
    finally:
        ours.stop()
        tit.stop()
    t_http = time.perf_counter() - t0
    print("  in-process floor and composite tiles ...", flush=True)
    svc = inproc.services(data.small_width)
    with quiet.capped(cfg["quiet_s"] / 4):
        ip = mosaic_inproc.measure(svc, scenes, ip_tiles, seconds=cfg["inproc_s"])
    prof = {name: mosaic_inproc.profile(svc, scenes, prof_tiles, name) for name in COMPOSITES}
    return {"scenes": {"ids": list(scenes.ids), "copies": scenes.copies, "layout": scenes.layout,
                       "datetime": scenes.datetime_range, "bounds": list(scenes.bounds)},
            "titiler_mosaic": has_mosaic, "settings": cfg, "tiles": {"cold": cold_tiles, "warm": warm_tiles},
            "http": rows, "inproc": ip, "profile": prof,
            "seconds": {"http": round(t_http, 1), "total": round(time.perf_counter() - t0, 1)}}


def _row(res: dict, kind: str, server: str) -> dict | None:
    return next((r for r in res["http"] if r["kind"] == kind and r["server"] == server and "warm" in r), None)


def targets(res: dict) -> list[dict]:
    out = []
    for name in COMPOSITES:
        v = res["inproc"][name]["ratio"]
        out.append({"name": f"{name}: tile CPU / floor (12 scene reads), in process", "value": v,
                    "needs": f"<= {TARGET_RATIO}", "met": v <= TARGET_RATIO, "fmt": "{:.2f}x"})
    for name in COMPOSITES:
        ours, theirs = _row(res, name, "geodeferred"), _row(res, SUMS[name], "titiler")
        for what, key in (("server CPU/tile", "cpu_ms"), ("warm latency", "p50_ms")):
            v = theirs["warm"][key] / ours["warm"][key] if ours and theirs else None
            out.append({"name": f"{name}: titiler 12-scene sum / ours, {what}", "value": v, "needs": "> 1",
                        "met": None if v is None else v > 1, "fmt": "{:.2f}x"})
        mos = _row(res, name, "titiler")
        v = mos["warm"]["cpu_ms"] / ours["warm"]["cpu_ms"] if ours and mos else None
        out.append({"name": f"{name}: titiler MosaicJSON / ours, server CPU/tile", "value": v, "needs": "(info)",
                    "met": None, "fmt": "{:.2f}x"})
    return out


def _join(samples: list[dict], key: str) -> str:
    return "/".join(format(c[key], ".0f") for c in samples)


def report(res: dict) -> str:
    sc, cfg = res["scenes"], res["settings"]
    copies = f"; {sc['copies']} of them re-dated copies (the demo has fewer than 12 scenes)" if sc["copies"] else ""
    out = [f"Mosaic group: 12 Sentinel-2 scenes {sc['ids'][0]} .. {sc['ids'][-1]} ({sc['layout']}{copies}); tiles z11..15 "
           f"inside every scene; 1 gunicorn worker per server, one request at a time; cold = first tile on fresh "
           f"workers ({cfg['cold']} sample(s), each on its own tile), warm = {cfg['warm']} distinct tiles after "
           f"{cfg['warmup']} warm-up tiles" + ("" if res["titiler_mosaic"] else "; titiler.mosaic not installed: no "
                                                "MosaicJSON rows (pip install '.[bench]')")]
    head = (f"{'tile':<28}{'server':<12}{'req':>4}{'cold ms':>14}{'cold CPU':>14}{'warm p50':>10}{'CPU/tile':>10}"
            f"{'KB':>6}{'other':>7}  note")
    out += [head, "-" * len(head)]
    for r in res["http"]:
        if "failed" in r:
            out.append(f"{r['kind']:<28}{r['server']:<12}  FAILED: {r['failed'][:150]}")
            continue
        w = r["warm"]
        other = max([w["other_cores"]] + [c["other_cores"] for c in r["cold"]])
        out.append(f"{r['kind']:<28}{r['server']:<12}{r['requests_per_tile']:>4}"
                   f"{_join(r['cold'], 'ms'):>14}{_join(r['cold'], 'cpu_ms'):>14}{_f(w['p50_ms'], '{:.0f}'):>10}"
                   f"{w['cpu_ms']:>10.0f}{w['kb']:>6.0f}{other:>6.2f}{'!' if other > DISTURBED else ' '} {r['note']}"
                   + (f"  ({w['errors']} errors: {w['error_samples'][:1]})" if w["errors"] else ""))
    out.append("")
    ip = res["inproc"]
    head = f"{'in process, one thread, warm (median CPU ms/tile)':<52}{'floor':>8}{'tile':>8}{'tile/floor':>12}{'other':>7}"
    out += [head, "-" * len(head)]
    for name, v in ip.items():
        label = f"{name} ({'/'.join(map(str, v['scenes_per_tile']))} scene reads)"
        out.append(f"{label:<52}{v['floor_ms']:>8.1f}{v['tile_ms']:>8.1f}{v['ratio']:>11.2f}x"
                   f"{v['other_cores']:>6.2f}{'!' if v['other_cores'] > DISTURBED else ''}")
    out.append("floor = sum of the scene reads (Item.read of the same bands + SCL onto the tile grid); "
               "tile = render_map (reads, cloud mask, reducer, colour, PNG); tile/floor = ratio of the totals")
    for name, p in res["profile"].items():
        out.append("")
        out.append(f"where a '{name}' tile's CPU goes (cProfile, CPU clock, {p['tiles']} warm tiles; "
                   f"{p['profiled_ms_per_tile']:.0f} ms/tile under the profiler):")
        for k, b in p["buckets"].items():
            out.append(f"  {k:<48}{b['ms']:>8.1f} ms{100 * b['share']:>7.1f} %")
    return "\n".join(out)
