"""`python -m bench.blas_probe N`: process CPU and wall ms per NDVI tile of our service code path.

Run by the bench twice, with the environment as it is and with OPENBLAS_NUM_THREADS=1: the reader's
coarse-grid interpolation is a small matrix product, and an OpenBLAS thread pool that spins after
each call burns CPU on the other core (process CPU time counts those helper threads).
"""
from __future__ import annotations

import json
import sys
import time


def main(argv: list[str]) -> int:
    from app.maps import parse_map_request, render_map
    from app.tiling import tile_grid

    from . import data as D
    from .inproc import services

    n = int(argv[0]) if argv else 100
    svc = services(4320)
    tiles = D.scene_tiles(D.s2_scene_cog(D.DATA_DIR / "default" / "sentinel2"), 600, 4)[:n]
    req = parse_map_request(svc, "s2scene", {"algorithm": "normalized_difference", "a": "B08", "b": "B04",
                                             "colormap": "rdylgn", "rescale": "-1,1"}, "png")
    for t in tiles[:5]:
        render_map(svc, req, tile_grid("WebMercatorQuad", *t))
    c0, t0 = time.process_time(), time.perf_counter()
    for t in tiles:
        render_map(svc, req, tile_grid("WebMercatorQuad", *t))
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    print(json.dumps({"cpu_ms": 1000 * cpu / len(tiles), "wall_ms": 1000 * wall / len(tiles), "tiles": len(tiles)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
