"""Evaluate graphs on one output grid (a tile, or one chunk of a region).

Planning sums halos along chains: a node is computed on the output grid widened by the halos of
every operation between it and the root, so sources are read exactly once per evaluation with the
margin their consumers need, and the cropped result of a tile equals the same pixels of a
one-piece evaluation. Results are dropped as soon as their last consumer has used them.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Callable, Sequence

from ..ops import Raster
from .cancel import checkpoint
from .errors import GraphError
from .graph import CollectionNode, Node, ProcessNode
from .grid import Grid
from .sources import Source

Lookup = Callable[[str], Source]


def margins(roots: Sequence[Node]) -> dict[Node, int]:
    """Pixels of halo each node must be computed with (the largest any consumer needs)."""
    need: dict[Node, int] = {}

    def walk(node: Node, m: int) -> None:
        if need.get(node, -1) >= m:
            return
        need[node] = m
        if isinstance(node, ProcessNode):
            h = node.op.halo(node.params)
            for _, child in node.inputs:
                walk(child, m + h)

    for r in roots:
        walk(r, 0)
    return need


_ALL = None


def band_needs(roots: Sequence[Node], lookup: Lookup) -> dict[CollectionNode, tuple[str, ...] | None]:
    """The bands to read of each collection reference: what its consumers need (None: all)."""
    needs: dict[CollectionNode, tuple[str, ...] | None] = {}

    def want(node: CollectionNode, bands: tuple[str, ...] | None) -> None:
        if node in needs and needs[node] is _ALL:
            return
        if bands is _ALL or node.bands:
            needs[node] = node.bands or _ALL
            return
        have = set(needs.get(node) or ()) | set(bands)
        needs[node] = tuple(b for b in lookup(node.collection).band_names if b in have)

    def walk(node: Node) -> None:
        if not isinstance(node, ProcessNode):
            return
        for name, child in node.inputs:
            if isinstance(child, CollectionNode):
                op = node.op
                bands = op.needs(name, bands_of(child, lookup), node.params) if op.needs else _ALL
                want(child, bands)
            walk(child)

    for r in roots:
        if isinstance(r, CollectionNode):
            want(r, _ALL)
        walk(r)
    return needs


Use = tuple[Node, bool]  # a node and whether it is consumed as a series (one raster per item)


def consumers(roots: Sequence[Node]) -> Counter:
    """How many consumers each (node, as-series) value has: a source read as a series by one
    operation and as one raster by another is two values, each computed once."""
    count: Counter = Counter()
    seen: set[Node] = set()

    def walk(node: Node) -> None:
        if node in seen:
            return
        seen.add(node)
        if isinstance(node, ProcessNode):
            for name, child in node.inputs:
                count[(child, node.op.inputs[name].kind == "series")] += 1
                walk(child)

    for r in roots:
        count[(r, False)] += 1
        walk(r)
    return count


def evaluate(roots: Sequence[Node], grid: Grid, lookup: Lookup) -> list[Raster]:
    """Rasters of each root on `grid`, sharing every common sub-graph."""
    need = margins(roots)
    left = consumers(roots)
    reads = band_needs(roots, lookup)
    done: dict[Use, object] = {}

    def take(node: Node, margin: int, series: bool):
        use = (node, series)
        if use not in done:
            done[use] = compute(node, series)
        value = done[use]
        left[use] -= 1
        if left[use] <= 0:
            del done[use]
        extra = need[node] - margin
        if isinstance(value, tuple):
            return tuple(r.crop(extra) for r in value)
        return value.crop(extra)

    def compute(node: Node, series: bool):
        checkpoint()
        g = grid.expand(need[node])
        if isinstance(node, CollectionNode):
            coll = lookup(node.collection)
            bands = reads.get(node) or node.bands
            origin = g.origin()
            if series:
                return tuple(replace(r, origin=origin) for r in coll.read_series(g, bands, node.datetime, node.filter))
            return replace(coll.read(g, bands, node.datetime, node.filter), origin=origin)
        op = node.op
        inner = need[node] + op.halo(node.params)
        args = {name: take(child, inner, op.inputs[name].kind == "series") for name, child in node.inputs}
        if any(isinstance(a, tuple) and not a for a in args.values()):
            return _nothing(node, g, lookup)  # no scene covers this grid in the requested time range
        out = op.kernel(args, node.params)
        h = inner - need[node]
        if out.shape != (g.height + 2 * h, g.width + 2 * h):
            raise GraphError(f"operation returned shape {out.shape}, expected its input's shape", node.process)
        return out.crop(h)

    results = [take(r, 0, False) for r in roots]
    return results


def bands_of(node: Node, lookup: Lookup) -> tuple[str, ...]:
    if isinstance(node, CollectionNode):
        return node.bands or lookup(node.collection).band_names
    return node.op.bands_out({n: bands_of(c, lookup) for n, c in node.inputs}, node.params)


def _nothing(node: ProcessNode, g: Grid, lookup: Lookup) -> Raster:
    import numpy as np

    bands = bands_of(node, lookup)
    cx, cy = g.cell_sizes()
    return Raster(np.zeros((len(bands), g.height, g.width), np.float32), np.zeros((g.height, g.width), bool),
                  bands, cx, cy, origin=g.origin())
