"""HTTP scenarios: the same tiles asked of both servers, each scenario in a fresh load process."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from . import quiet
from .data import ROOT, VAR, Tile
from .servers import Server

OURS_TMS = "/collections/{cid}/map/tiles/WebMercatorQuad/{z}/{y}/{x}"  # OGC order: row = y, col = x
TITILER_TMS = "/tiles/WebMercatorQuad/{z}/{x}/{y}.png"
GRAPH3_BODY = {"inputs": {"data": {"process": "hillshade", "inputs": {"data": {"collection": "{cid}"}}}}}


@dataclass(frozen=True)
class Target:
    """One way of asking one server for a kind of tile: a path template and a query."""

    server: str  # "geodeferred" | "titiler"
    template: str
    query: dict[str, str]

    def path(self, tile: Tile) -> str:
        z, x, y = tile
        p = self.template.format(z=z, x=x, y=y)
        return p + ("?" + urlencode(self.query) if self.query else "")


def ours(cid: str, query: dict[str, str] | None = None) -> Target:
    return Target("geodeferred", OURS_TMS.replace("{cid}", cid), query or {})


def titiler(cog: str, query: dict[str, str]) -> Target:
    return Target("titiler", TITILER_TMS, {"url": cog, **query})


def create_graph3(server: Server, dem_cid: str) -> str:
    """POST the 3-node workflow with response=collection; returns the deferred collection's id."""
    body = json.loads(json.dumps(GRAPH3_BODY).replace("{cid}", dem_cid))
    r = httpx.post(f"{server.base}/processes/slope/execution", params={"response": "collection"}, json=body,
                   timeout=30, follow_redirects=False)
    if r.status_code != 303 or "location" not in r.headers:
        raise RuntimeError(f"POST /processes/slope/execution?response=collection: {r.status_code} {r.text[:500]}")
    return r.headers["location"].rstrip("/").rsplit("/collections/", 1)[1]


def preflight(server: Server, target: Target, tile: Tile) -> str | None:
    """One request before the load: None when it is a 200 PNG, else the error (with its body)."""
    r = httpx.get(server.base + target.path(tile), timeout=60)
    if r.status_code != 200 or not r.content.startswith(b"\x89PNG"):
        return f"GET {target.path(tile)} -> {r.status_code} {r.headers.get('content-type')}: {r.text[:400]}"
    return None


def run_load(server: Server, target: Target, tiles: list[Tile], warmup: list[Tile], *, concurrency: int,
             max_count: int, max_seconds: float, name: str) -> dict:
    """Run bench.load in its own process against one server; returns its JSON result."""
    return run_paths(server, [target.path(t) for t in tiles], [target.path(t) for t in warmup],
                     concurrency=concurrency, max_count=max_count, max_seconds=max_seconds, name=name)


def run_paths(server: Server, paths: list[str], warmup: list[str], *, concurrency: int, max_count: int,
              max_seconds: float, name: str) -> dict:
    """bench.load over explicit request paths (in order when concurrency is 1)."""
    spec = {"host": "127.0.0.1", "port": server.port, "concurrency": concurrency, "max_count": max_count,
            "max_seconds": max_seconds, "worker_pids": server.worker_pids, "warmup": warmup, "paths": paths}
    path = VAR / "specs" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(spec))
    proc = subprocess.run([sys.executable, "-m", "bench.load", str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=max_seconds + 300)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({name}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def run_scenario(name: str, targets: list[tuple[Server, Target]], tiles: list[Tile], warmup: list[Tile], *,
                 rounds: int, concurrency: int, max_count: int, max_seconds: float) -> dict[str, dict]:
    """Alternate the servers over `rounds` slices of the tile list (fresh connections each round,
    a quiet machine awaited before each), so background load and the luck of which worker
    accepts the connections hit both alike. Returns {server name: aggregated result}."""
    tiles = tiles[:max_count]
    slices = [tiles[r * len(tiles) // rounds:(r + 1) * len(tiles) // rounds] for r in range(rounds)]
    raw: dict[str, list[dict]] = {srv.name: [] for srv, _ in targets}
    for r, part in enumerate(slices):
        for srv, target in (targets if r % 2 == 0 else targets[::-1]):
            q = quiet.wait_quiet()
            res = run_load(srv, target, part, warmup if r == 0 else warmup[:concurrency], concurrency=concurrency,
                           max_count=len(part), max_seconds=max_seconds / rounds,
                           name=f"{srv.name}-{name.replace(' ', '_')}-{r}")
            res["quiet"] = q
            raw[srv.name].append(res)
    return {k: aggregate(v) for k, v in raw.items()}


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def aggregate(rounds: list[dict]) -> dict:
    n = sum(r["requests"] for r in rounds)
    secs = sum(r["seconds"] for r in rounds) or 1e-9
    lat = sorted(v for r in rounds for v in r["latencies_ms"])
    per_pid: dict[str, float] = {}
    for r in rounds:
        for pid, v in r["worker_cpu_s"].items():
            per_pid[pid] = per_pid.get(pid, 0.0) + v
    server = sum(per_pid.values()) or 1e-9
    client = sum(r["client_cpu_s"] for r in rounds)
    other = sum(max(0.0, r["machine_busy_s"] - sum(r["worker_cpu_s"].values()) - r["client_cpu_s"]) for r in rounds)

    def shares(cpu: dict[str, float]) -> list[float]:
        tot = sum(cpu.values()) or 1e-9
        return sorted((round(v / tot, 3) for v in cpu.values()), reverse=True)

    errors = [e for r in rounds for e in r["error_samples"]]
    return {
        "requests": n, "seconds": secs, "rounds": len(rounds),
        "errors": sum(r["errors"] for r in rounds), "warmup_errors": sum(r["warmup_errors"] for r in rounds),
        "error_samples": errors[:5],
        "tiles_per_s": n / secs, "p50_ms": _pct(lat, 0.50), "p95_ms": _pct(lat, 0.95),
        "mean_kb": sum(r["bytes"] for r in rounds) / max(n, 1) / 1024,
        "server_cpu_per_s": server / secs, "server_cpu_ms_per_tile": 1000 * server / max(n, 1),
        "client_cpu_per_s": client / secs, "other_cores": other / secs,
        "worker_share": shares(per_pid),
        "round_worker_shares": [shares(r["worker_cpu_s"]) for r in rounds],
        "round_less_busy_share": [shares(r["worker_cpu_s"])[-1] for r in rounds],
        "round_tiles_per_s": [round(r["requests"] / r["seconds"], 1) if r["seconds"] else 0 for r in rounds],
        "quiet_waits": [r["quiet"] for r in rounds],
    }
