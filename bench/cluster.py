"""`python -m bench.cluster [--quick]`: scaling beyond one web worker, one bounded run.

- region: throughput (Mpx/s) of a job writing slope(hillshade(dem)) over one region to its GeoTIFF, with 1, 2 and 4 workers of a
  local process pool and of a dask cluster (LocalCluster of single-threaded worker processes);
- load: 16 keep-alive clients for a bounded time against 1 and 2 replicas (separate gunicorn
  masters, one web worker each) behind a real nginx sharing a real redis-server tile cache:
  tiles/s, p50/p95, errors, peak memory per process; then one replica with a small tile queue
  (`GEODEFERRED_MAX_TILE_QUEUE=2`), overloaded on purpose: the share of 503 answers.

Writes bench/out/cluster.json. Data: the demo DEM built under var/bench-cluster/ (once).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from . import data as D
from . import inproc, report
from .load import Connection
from .servers import GDAL_ENV, free_port

VAR = D.ROOT / "var" / "bench-cluster"
OUT = Path(__file__).resolve().parent / "out"
TILE = "/collections/dem/map/tiles/WebMercatorQuad/{z}/{y}/{x}?algorithm=hillshade"


def services(width: int):
    from app.main import build_services
    from app.settings import Settings

    return build_services(Settings(data_dir=VAR / "data", jobs_dir=VAR / "jobs", dem_width=width, executor="inline",
                                   tile_cache_entries=0))


def region_part(width: int, quick: bool) -> dict:
    # the whole globe at the DEM's native resolution, in the service's chunks (REGION_CHUNK).
    # GDAL's block cache would otherwise hold the whole decoded DEM after the warm-up run in a single
    # worker, while two workers each decode what the other cached: capped far below the DEM's size,
    # every run of every executor decodes what it reads (the workers inherit it when they start).
    saved, os.environ["GDAL_CACHEMAX"] = os.environ.get("GDAL_CACHEMAX"), "64"
    try:
        return inproc.region_throughput(services(width), "dem", None, 2 if quick else 3)
    finally:
        if saved is None:
            del os.environ["GDAL_CACHEMAX"]
        else:
            os.environ["GDAL_CACHEMAX"] = saved


class Replica:
    def __init__(self, env: dict[str, str], name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = env | {"GEODEFERRED_PORT": str(self.port),
                     "GUNICORN_CMD_ARGS": f"--control-socket {VAR / f'{name}-{self.port}.ctl'}"}
        self.log = open(VAR / f"{name}.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "app.asgi:app"],
                                     cwd=D.ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 240) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "a replica exited; see var/bench-cluster/*.log"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=5).status_code == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError("replica not ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class PeakMemory:
    """Peak RSS of each process of the given roots (and their children), sampled every 0.2 s."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots, self.peak, self._stop = roots, {}, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for role, pid in self.roots.items():
                with contextlib.suppress(psutil.NoSuchProcess):
                    root = psutil.Process(pid)
                    for i, p in enumerate([root, *root.children(recursive=True)]):
                        with contextlib.suppress(psutil.NoSuchProcess):
                            key = f"{role}/{'master' if i == 0 else p.pid}"
                            self.peak[key] = max(self.peak.get(key, 0), p.memory_info().rss)

    def __enter__(self) -> "PeakMemory":
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()


async def _clients(port: int, paths: list[str], concurrency: int, seconds: float) -> dict:
    queue = iter(paths)
    lat, statuses, errors = [], {}, []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        conn = Connection("127.0.0.1", port)
        try:
            for path in queue:
                if time.perf_counter() > deadline:
                    return
                t0 = time.perf_counter()
                try:
                    status, _, _ = await conn.get(path)
                except Exception as exc:  # a dropped connection or a time-out is an error
                    status = 0
                    errors.append(f"{type(exc).__name__}: {exc}")
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    lat.append(time.perf_counter() - t0)
        finally:
            conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    lat.sort()
    n = sum(statuses.values())
    pct = (lambda q: 1000 * lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan"))
    return {"requests": n, "seconds": round(elapsed, 2), "tiles_per_s": statuses.get(200, 0) / elapsed,
            "p50_ms": pct(0.5), "p95_ms": pct(0.95), "statuses": {str(k): v for k, v in statuses.items()},
            "errors": n - statuses.get(200, 0) - statuses.get(503, 0) - statuses.get(429, 0),
            "refused_share": (statuses.get(503, 0) + statuses.get(429, 0)) / max(n, 1), "error_samples": errors[:3]}


def load_part(width: int, seconds: float, concurrency: int = 16) -> list[dict]:
    sys.path.insert(0, str(D.ROOT))
    from tests.servers.nginx import nginx_server
    from tests.servers.redis import redis_server

    VAR.mkdir(parents=True, exist_ok=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith("GEODEFERRED_")} | GDAL_ENV | {
        "PYTHONPATH": str(D.ROOT), "GEODEFERRED_WORKERS": "1", "GEODEFERRED_DATA_DIR": str(VAR / "data"),
        "GEODEFERRED_JOBS_DIR": str(VAR / "jobs"), "GEODEFERRED_DEM_WIDTH": str(width),
        "GEODEFERRED_EXECUTOR": "inline", "GEODEFERRED_LOG_LEVEL": "warning"}
    runs = []
    tiles = D.dem_tiles(30000, 7)
    offset = 0
    with redis_server(VAR) as redis_url:
        for label, n, extra in (("1 replica", 1, {}), ("2 replicas", 2, {}),
                                ("1 replica, overloaded (tile queue 2)", 1, {"GEODEFERRED_MAX_TILE_QUEUE": "2"})):
            env = base | {"GEODEFERRED_TILE_CACHE": redis_url} | extra
            replicas = [Replica(env, f"replica{i}") for i in range(n)]
            try:
                for r in replicas:
                    r.wait()
                with nginx_server(VAR, [r.url.removeprefix("http://") for r in replicas]) as lb:
                    paths = [TILE.format(z=z, x=x, y=y) for z, x, y in tiles[offset:offset + 10000]]
                    offset += 10000  # fresh tiles each run: computed, not cached
                    roots = {f"replica{i}": r.proc.pid for i, r in enumerate(replicas)}
                    with PeakMemory(roots) as mem:
                        res = asyncio.run(_clients(int(lb.rsplit(":", 1)[1]), paths, concurrency, seconds))
                res |= {"label": label, "replicas": n, "peak_rss_mb": {k: round(v / 2**20, 1) for k, v in mem.peak.items()}}
                runs.append(res)
                print(f"  {label:<40} {res['tiles_per_s']:.1f} tiles/s, p50 {res['p50_ms']:.0f} ms, "
                      f"p95 {res['p95_ms']:.0f} ms, refused {100 * res['refused_share']:.0f}%, errors {res['errors']}",
                      flush=True)
            finally:
                for r in replicas:
                    r.stop()
    return runs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--width", type=int, help="demo DEM width (default 17280, quick 8640)")
    p.add_argument("--seconds", type=float, help="per load run (default 10, quick 4)")
    p.add_argument("--skip-region", action="store_true")
    p.add_argument("--skip-load", action="store_true")
    a = p.parse_args(argv)
    width = a.width or (8640 if a.quick else 17280)
    from demodata import build_demo_data

    build_demo_data(VAR / "data", dem_width=width)
    out: dict = {"dem_width": width, "cpus": os.cpu_count()}
    if not a.skip_region:
        print("region throughput ...", flush=True)
        out["region"] = region_part(width, a.quick)
        print(report.region_table(out["region"]), flush=True)
    if not a.skip_load:
        print("load through nginx (16 keep-alive clients) ...", flush=True)
        out["load"] = load_part(width, a.seconds or (4.0 if a.quick else 10.0))
        if len(out["load"]) >= 2:
            out["replica_speedup"] = out["load"][1]["tiles_per_s"] / max(out["load"][0]["tiles_per_s"], 1e-9)
            print(f"  2 replicas / 1 replica: {out['replica_speedup']:.2f}x")
    OUT.mkdir(exist_ok=True)
    (OUT / "cluster.json").write_text(json.dumps(out, indent=2, default=str))
    print(f"results: {OUT / 'cluster.json'}")
    return 0


if __name__ == "__main__":  # the guard process executors (forkserver) need
    sys.exit(main())
