"""Evaluate a graph over a whole region: split into chunks, evaluate them in parallel, merge.

Chunks are evaluated with the same tile machinery (each reads its own halo), so the merged
region is identical to a one-piece evaluation. The executor decides where chunks run (inline,
a process pool, or a dask.distributed cluster).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from ..ops import Raster
from .errors import BudgetExceeded
from .evaluate import band_needs, evaluate, margins
from .executor import Executor
from .graph import CollectionNode, Node
from .grid import Grid
from .sources import Source


@dataclass(frozen=True)
class Chunk:
    roots: tuple[Node, ...]
    grid: Grid
    collections: Mapping[str, Source]
    col_off: int
    row_off: int


def chunks(grid: Grid, size: int) -> list[tuple[int, int, int, int]]:
    """(col_off, row_off, width, height) windows covering the grid."""
    out = []
    for r in range(0, grid.height, size):
        for c in range(0, grid.width, size):
            out.append((c, r, min(size, grid.width - c), min(size, grid.height - r)))
    return out


def evaluate_chunk(chunk: Chunk) -> tuple[int, int, list[tuple[np.ndarray, np.ndarray, tuple[str, ...]]]]:
    """Module-level so process pools and dask can run it."""
    rasters = evaluate(list(chunk.roots), chunk.grid, chunk.collections.__getitem__)
    return chunk.col_off, chunk.row_off, [(r.data, r.mask, r.band_names) for r in rasters]


def check_budget(roots: Sequence[Node], grid: Grid, max_pixels: int,
                 lookup: Callable[[str], Source] | None = None) -> int:
    """Pixel evaluations the request needs (halos included; each band of each scene a source
    reads counts), refused before any work starts."""
    need = margins(roots)
    reads = band_needs(roots, lookup) if lookup is not None else {}
    total = 0
    for node, m in need.items():
        weight = 1
        if lookup is not None and isinstance(node, CollectionNode):
            src = lookup(node.collection)
            bands = reads.get(node) or node.bands or src.band_names
            weight = len(bands) * max(1, len(src.select(node.datetime, node.filter)))
        total += (grid.width + 2 * m) * (grid.height + 2 * m) * weight
    if total > max_pixels:
        raise BudgetExceeded(f"the request needs about {total:,} pixel evaluations; the limit is {max_pixels:,}. "
                             "Use a coarser resolution, a smaller area, or asynchronous execution.")
    return total


def evaluate_region(roots: Sequence[Node], grid: Grid, collections: Mapping[str, Source],
                    executor: Executor, chunk_size: int = 1024) -> list[Raster]:
    parts = [Chunk(tuple(roots), grid.window(c, r, w, h), dict(collections), c, r) for c, r, w, h in chunks(grid, chunk_size)]
    results = executor.map(evaluate_chunk, parts) if len(parts) > 1 else [evaluate_chunk(parts[0])]
    out: list[Raster] = []
    cx, cy = grid.cell_sizes()
    for k in range(len(roots)):
        names = results[0][2][k][2]
        data = np.zeros((len(names), grid.height, grid.width), np.float32)
        mask = np.zeros((grid.height, grid.width), bool)
        for c, r, rasters in results:
            d, m, _ = rasters[k]
            data[:, r:r + m.shape[0], c:c + m.shape[1]] = d
            mask[r:r + m.shape[0], c:c + m.shape[1]] = m
        out.append(Raster(data, mask, names, cx, cy))
    return out
