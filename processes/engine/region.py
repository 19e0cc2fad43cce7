"""The engine's one entry point: evaluate a graph over a region, a tile being the smallest one.

A region is split into chunks, each evaluated with the tile machinery (each reads its own halo),
so the merged region is identical to a one-piece evaluation. A grid that fits in one chunk (a
tile) is evaluated in the calling thread; larger ones fan their chunks out as separate tasks of
the executor (a process pool, a dask.distributed cluster). `region_parts` streams the evaluated
chunks in order as they finish (or what a finishing step made of each in its worker: a writer's
compressed tiles), so writers put each into the output file and drop it: memory holds a few
chunks, not the region. The pixel budget is checked here, once, before any work.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ..ops import Raster
from .errors import BudgetExceeded
from .evaluate import band_needs, evaluate, margins
from .executor import Executor
from .fanout import fan_out
from .graph import CollectionNode, Node, canonical, collections_of
from .grid import Grid
from .sources import Source

Lookup = Callable[[str], Source]


@dataclass(frozen=True)
class Region:
    """Where and how finely to evaluate: a bbox in a CRS and the output size in pixels."""

    crs: str
    bbox: tuple[float, float, float, float]
    width: int
    height: int

    def grid(self) -> Grid:
        return Grid.from_bounds(self.crs, self.bbox, self.width, self.height)


@dataclass(frozen=True)
class Chunk:
    """One unit of work, self-contained (picklable): the graph, its sources, one window."""

    roots: tuple[Node, ...]
    grid: Grid
    collections: Mapping[str, Source]
    col_off: int
    row_off: int


@dataclass(frozen=True)
class Part:
    """An evaluated chunk: one raster per root, placed at (col_off, row_off) of the region."""

    col_off: int
    row_off: int
    rasters: list[Raster]

    # What crosses from a worker to the coordinator: masks as bits, an eighth of their bytes.
    def __getstate__(self) -> tuple:
        return self.col_off, self.row_off, [(r.data, np.packbits(r.mask), r.band_names, r.cell_x, r.cell_y,
                                             r.datetime, r.origin) for r in self.rasters]

    def __setstate__(self, state: tuple) -> None:
        col_off, row_off, rasters = state
        object.__setattr__(self, "col_off", col_off)
        object.__setattr__(self, "row_off", row_off)
        object.__setattr__(self, "rasters", [
            Raster(data, np.unpackbits(bits, count=data.shape[1] * data.shape[2]).reshape(data.shape[1:]).view(bool),
                   names, cx, cy, dt, origin) for data, bits, names, cx, cy, dt, origin in rasters])


def chunks(grid: Grid, size: int) -> list[tuple[int, int, int, int]]:
    """(col_off, row_off, width, height) windows covering the grid, row by row."""
    out = []
    for r in range(0, grid.height, size):
        for c in range(0, grid.width, size):
            out.append((c, r, min(size, grid.width - c), min(size, grid.height - r)))
    return out


def evaluate_chunk(chunk: Chunk, then: Callable[[Part], Any] | None = None) -> Any:
    """Module-level so process pools and dask can run it."""
    part = Part(chunk.col_off, chunk.row_off, evaluate(list(chunk.roots), chunk.grid, chunk.collections.__getitem__))
    return part if then is None else then(part)


def chunk_sources(need: Mapping[Node, int], grid: Grid, collections: Mapping[str, Source], *,
                  any_date: bool = False) -> dict[str, Source]:
    """The sources a chunk task carries: each narrowed to the items that its reads (every
    collection node's grid with its halo, `need` from `margins`, and selection; `any_date`: any
    datetime or filter) cover. A task of a years-long scene series then pickles a few items."""
    reads: dict[str, list] = {c: [] for c in collections}
    for node, m in need.items():
        if isinstance(node, CollectionNode):
            selection = (None, None) if any_date else (node.datetime, node.filter)
            reads[node.collection].append((grid.expand(m), *selection))
    return {c: src.narrowed(reads[c]) for c, src in collections.items()}


def check_budget(roots: Sequence[Node], grid: Grid, max_pixels: int, lookup: Lookup | None = None) -> int:
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


def task_key(roots: Sequence[Node], grid: Grid, collections: Mapping[str, Source], size: int,
             then: Callable[[Part], Any] | None = None) -> str:
    """Equal graph, data versions, grid, chunking and finishing step -> equal task names."""
    ident = {"graph": [canonical(r) for r in roots], "versions": {c: v.version for c, v in sorted(collections.items())},
             "grid": [grid.crs, list(grid.transform)[:6], grid.width, grid.height], "chunk": size,
             "then": _describe(then)}
    return "region-" + hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:20]


def _describe(fn: Callable | None) -> str | None:
    """A function (or a partial of one) by name and arguments, the same in every process."""
    if isinstance(fn, functools.partial):
        return f"{_describe(fn.func)}{fn.args!r}{sorted(fn.keywords.items())!r}"
    return None if fn is None else f"{fn.__module__}.{fn.__qualname__}"


def region_parts(roots: Sequence[Node], grid: Grid, lookup: Lookup, executor: Executor | None = None, *,
                 chunk: int = 1024, max_pixels: int | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 then: Callable[[Part], Any] | None = None) -> Iterator[Any]:
    """The evaluated chunks of the region, in row-major order, as they finish.

    `then` (module-level, or a partial of one) runs on each chunk where it was evaluated, and its
    result is yielded instead of the Part: a writer encodes each chunk in its worker, so the
    coordinator only stores what arrives."""
    if max_pixels is not None:
        check_budget(roots, grid, max_pixels, lookup)
    windows = chunks(grid, chunk)
    if executor is None or len(windows) == 1:  # a tile, or no executor: here, one chunk at a time
        for i, (c, r, w, h) in enumerate(windows, 1):
            part = Part(c, r, evaluate(list(roots), grid.window(c, r, w, h), lookup))
            yield part if then is None else then(part)
            if progress is not None:
                progress(i, len(windows))
        return
    colls = {c: lookup(c) for c in sorted(set().union(*(collections_of(r) for r in roots)))}
    need = margins(roots)
    parts = [Chunk(tuple(roots), g, chunk_sources(need, g, colls), c, r)
             for c, r, w, h in windows for g in (grid.window(c, r, w, h),)]
    task = evaluate_chunk if then is None else functools.partial(evaluate_chunk, then=then)
    yield from fan_out(executor, task, parts, key=task_key(roots, grid, colls, chunk, then), progress=progress)


def evaluate_region(roots: Sequence[Node], grid: Grid, lookup: Lookup, executor: Executor | None = None, *,
                    chunk: int = 1024, max_pixels: int | None = None) -> list[Raster]:
    """The region's rasters merged in memory (tiles, small regions); writers use `region_parts`."""
    out: list[Raster] | None = None
    for part in region_parts(roots, grid, lookup, executor, chunk=chunk, max_pixels=max_pixels):
        if part.rasters[0].mask.shape == (grid.height, grid.width):
            return part.rasters  # one chunk: nothing to merge
        if out is None:
            cx, cy = grid.cell_sizes()
            out = [Raster(np.zeros((len(r.band_names), grid.height, grid.width), np.float32),
                          np.zeros((grid.height, grid.width), bool), r.band_names, cx, cy) for r in part.rasters]
        for whole, r in zip(out, part.rasters):
            h, w = r.mask.shape
            whole.data[:, part.row_off:part.row_off + h, part.col_off:part.col_off + w] = r.data
            whole.mask[part.row_off:part.row_off + h, part.col_off:part.col_off + w] = r.mask
    assert out is not None
    return out
