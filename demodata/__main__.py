"""CLI: ``python -m demodata --data-dir DIR [--size default|large] [--dem-width N] [--force]``."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from . import SIZES, build_demo_data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demodata", description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True, help="output folder (created if missing)")
    parser.add_argument("--size", choices=sorted(SIZES), default="default", help="AOI size (default: default)")
    parser.add_argument("--dem-width", type=int, default=4320, help="global DEM width in pixels (height = width/2)")
    parser.add_argument("--force", action="store_true", help="rebuild files that already exist")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    t0, started = time.perf_counter(), time.time() - 0.02  # coarse filesystem clocks
    paths = build_demo_data(args.data_dir, size=args.size, dem_width=args.dem_width, force=args.force)
    for name, path in paths.items():
        files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        size = sum(p.stat().st_size for p in files)
        state = "built" if any(p.stat().st_mtime >= started for p in files) else "up to date"
        print(f"{name:16s} {path}  ({size / 1e6:.1f} MB, {state})")
    print(f"done in {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
