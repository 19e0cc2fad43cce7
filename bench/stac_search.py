"""`python -m bench.stac_search [--count N]`: STAC API search latency, embedded (stac-geoparquet +
DuckDB) against pgstac (a throw-away PostgreSQL on loopback), through uvicorn and HTTP.

Two requests per backend, each timed N times after a warm-up: the issue's search (collection, bbox,
datetime range, CQL2 cloud filter, sort) by GET, and every item by POST. Prints median and p95.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx

SEARCH = ("/stac/search?collections=sentinel2&bbox=4.33,43.40,4.38,43.45&datetime=2023-05-01T00:00:00Z/"
          "2023-09-30T23:59:59Z&filter=eo:cloud_cover%3C20&sortby=-properties.datetime")


def _timed(call, count: int) -> tuple[float, float]:
    for _ in range(5):
        call()
    times = []
    for _ in range(count):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), sorted(times)[max(0, int(0.95 * count) - 1)]


def measure(backend: str, data_dir: Path, count: int) -> str:
    from app.main import create_app
    from app.settings import Settings
    from tests.conftest import LiveServer

    settings = Settings(data_dir=data_dir, jobs_dir=Path(tempfile.mkdtemp()), dem_width=720, executor="inline",
                        stac_backend=backend)
    with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=60) as c:
        get = _timed(lambda: c.get(SEARCH).raise_for_status(), count)
        post = _timed(lambda: c.post("/stac/search", json={"collections": ["sentinel2"], "limit": 100}).raise_for_status(), count)
        found = len(c.get(SEARCH).json()["features"])
    name = "embedded" if backend == "embedded" else "pgstac"
    return (f"{name:>9}: filtered GET search ({found} items) median {get[0]:.1f} ms p95 {get[1]:.1f} ms; "
            f"POST all items median {post[0]:.1f} ms p95 {post[1]:.1f} ms")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.stac_search", description=__doc__)
    p.add_argument("--count", type=int, default=60)
    p.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "geodeferred-bench-stac")
    a = p.parse_args(argv)
    print(measure("embedded", a.data_dir, a.count), flush=True)
    from tests.servers.postgres import postgres_server

    try:
        with postgres_server(Path(tempfile.mkdtemp())) as dsn:
            print(measure(dsn, a.data_dir, a.count), flush=True)
    except BaseException as e:  # pytest.skip outside pytest: PostgreSQL is not installed
        if type(e).__name__ != "Skipped":
            raise
        print(f"   pgstac: skipped ({e})")


if __name__ == "__main__":
    main()
