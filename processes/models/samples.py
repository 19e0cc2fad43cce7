"""Training samples: the pixels inside labelled polygons, balanced per class and bounded, with the
split between training and validation made by polygon.

A pixel is a sample of a polygon when it lies wholly inside it (mixed pixels on the boundary
would teach the classifier a blend of two fields): its exact coverage by the polygon, computed by
the zonal engine (`processes.zonal.coverage.weights`), is 1.

Splitting by polygon: for each class, a fraction of its polygons (at least one) is held out,
so no parcel has pixels on both sides and the accuracy measures generalisation to new parcels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import shapely
from pyproj import Transformer

from ..engine.errors import EngineError
from ..engine.grid import Grid, crs_of


class SampleError(EngineError):
    """Labelled data a model cannot be trained from (one class, too few samples...): a 400."""


@dataclass(frozen=True)
class Labelled:
    geoms: tuple[Any, ...]  # shapely, in the grid's CRS
    labels: tuple[int, ...]  # class value of each polygon
    ids: tuple[str, ...]


def labelled(features: Sequence[Mapping[str, Any]], prop: str, codes: Mapping[str, int], crs: str) -> Labelled:
    to = Transformer.from_crs("OGC:CRS84", crs_of(crs), always_xy=True)
    geoms, labels, ids = [], [], []
    for f in features:
        value = (f.get("properties") or {}).get(prop)
        if value is None or not f.get("geometry"):
            continue
        g = shapely.from_geojson(__import__("json").dumps(f["geometry"]))
        if g.geom_type not in ("Polygon", "MultiPolygon") or g.is_empty:
            continue
        geoms.append(shapely.transform(g, lambda xy: np.column_stack(to.transform(xy[:, 0], xy[:, 1]))))
        labels.append(codes[str(value)])
        ids.append(str(f.get("id")))
    return Labelled(tuple(geoms), tuple(labels), tuple(ids))


def interior_cells(lab: Labelled, grid: Grid) -> list[np.ndarray]:
    """Flat indices of the grid cells wholly inside each polygon: the zonal engine's exact
    coverage (the same weights as zonal statistics) equal to 1."""
    from ..zonal.coverage import to_pixels, weights  # zonal imports the models' neighbours: keep it late

    if not lab.geoms:
        return []
    W = weights(list(to_pixels(np.asarray(lab.geoms, dtype=object), grid.transform)), grid.width, grid.height)
    whole = W.data >= 1.0 - 1e-9
    return [W.indices[lo:hi][whole[lo:hi]].astype(np.int64) for lo, hi in zip(W.indptr[:-1], W.indptr[1:])]


def raster_groups(values: np.ndarray, valid: np.ndarray, block: int, names: Mapping[str, str], minimum: int
                  ) -> tuple[Labelled, list[np.ndarray], tuple[Any, ...], list[str]]:
    """Samples from a class raster: the valid pixels of each class in each `block` x `block` square
    form one group (a "polygon"), so the split by polygon holds out whole blocks of a class and
    neighbouring pixels, which look alike, are not on both sides. Classes in fewer than two blocks
    or with fewer than `minimum` pixels are dropped (named in the last element). Returns the groups
    as a Labelled (no geometry), their cells, the classes (value, name, colour) and the dropped."""
    from ..ops._models import ModelClass
    from .mlm import colour

    rows, cols = np.indices(values.shape)
    ok = valid & np.isfinite(values)
    v = np.where(ok, values, 0)
    if ok.any() and not np.array_equal(v[ok], np.round(v[ok])):
        raise SampleError("the labels raster must hold integer class values")
    blocks_x = -(-values.shape[1] // block)
    key = ((rows // block) * blocks_x + cols // block).ravel()
    flat = np.flatnonzero(ok.ravel())
    cls = v.ravel()[flat].astype(np.int64)
    order = np.lexsort((flat, key[flat], cls))
    flat, cls, grp = flat[order], cls[order], key[flat][order]
    starts = np.flatnonzero(np.r_[True, (np.diff(cls) != 0) | (np.diff(grp) != 0)])
    cells = np.split(flat, starts[1:]) if len(flat) else []
    labels = tuple(int(cls[s]) for s in starts) if len(flat) else ()
    ids = tuple(f"block {int(grp[s])}" for s in starts) if len(flat) else ()
    name = lambda c: names.get(str(c), f"class {c}")  # noqa: E731
    counts: dict[int, list[int]] = {}
    for c, cl in zip(labels, cells):
        counts.setdefault(c, []).append(len(cl))
    keep = sorted(c for c, n in counts.items() if len(n) >= 2 and sum(n) >= minimum)
    dropped = [name(c) for c in sorted(set(counts) - set(keep))]
    kept = [i for i, c in enumerate(labels) if c in keep]
    classes = tuple(ModelClass(c, name(c), colour(k)) for k, c in enumerate(keep))
    return (Labelled((), tuple(labels[i] for i in kept), tuple(ids[i] for i in kept)), [cells[i] for i in kept],
            classes, dropped)


def split_polygons(labels: Sequence[int], fraction: float, rng: np.random.Generator) -> np.ndarray:
    """True for the polygons held out for validation: per class, round(fraction x n), at least 1."""
    labels = np.asarray(labels)
    held = np.zeros(len(labels), bool)
    for value in np.unique(labels):
        idx = np.flatnonzero(labels == value)
        k = min(len(idx) - 1, max(1, round(fraction * len(idx))))
        held[rng.choice(idx, k, replace=False)] = True
    return held


def draw(cells: Sequence[np.ndarray], labels: Sequence[int], which: np.ndarray, valid: np.ndarray,
         per_class: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cells, labels, polygon index) of at most `per_class` valid samples of each class, spread
    evenly over the class's polygons (a large parcel does not outweigh the small ones)."""
    labels = np.asarray(labels)
    picked, ys, groups = [], [], []
    for value in np.unique(labels[which]):
        polys = [i for i in np.flatnonzero(which & (labels == value))]
        usable = [c[valid[c]] for c in (cells[i] for i in polys)]
        quota = max(1, per_class // max(1, len(polys)))
        for i, c in zip(polys, usable):
            take = c if len(c) <= quota else rng.choice(c, quota, replace=False)
            picked.append(take)
            ys.append(np.full(len(take), value))
            groups.append(np.full(len(take), i))
    if not picked:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(picked), np.concatenate(ys), np.concatenate(groups)


def check_counts(cells: Sequence[np.ndarray], lab: Labelled, names: Mapping[int, str], minimum: int) -> None:
    """Refuse, before any pixel is read, labelled data that cannot give a validated model."""
    values = sorted(set(lab.labels))
    if len(values) < 2:
        only = names[values[0]] if values else "none"
        raise SampleError(f"training needs at least two classes; the labelled features have one ({only})")
    labels = np.asarray(lab.labels)
    for v in values:
        polys = np.flatnonzero(labels == v)
        if len(polys) < 2:
            raise SampleError(f"class '{names[v]}' has {len(polys)} labelled polygon: at least 2 are needed "
                              "(one is held out to validate on)")
        n = sum(len(cells[i]) for i in polys)
        if n < minimum:
            raise SampleError(f"too few samples: class '{names[v]}' has {n} pixels inside its polygons at this "
                              f"resolution, at least {minimum} are needed (a finer resolution or more polygons)")
