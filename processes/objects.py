"""The `segment-features` process: segments of a region as GeoJSON features with per-segment
statistics (pixel count, area, mean of each band of a feature stack), for OGC API Features
clients and object-based analysis.

The segment labels and the statistics are evaluated over the region in chunks like any raster
(labels agree across chunks, see ops/segment.py); each segment becomes one (multi)polygon traced
along its pixel edges (rasterio.features.shapes) and transformed to CRS84. Statistics are exact
zonal statistics: a segment's pixels are wholly inside it, so they are sums over its pixels.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import shapely
from pyproj import Transformer
from rasterio.features import shapes

from .engine.errors import GraphError
from .engine.graph import ProcessNode, canonical, collections_of, output_bands, parse_node
from .engine.executor import Executor
from .engine.region import check_budget, evaluate_region
from .engine.sources import source_from_dict
from .execute import REGION_INPUTS, Region, parse_region

MAX_FEATURES = 100_000


def prepare(inputs: Any, ctx) -> dict[str, Any]:
    pid = "segment-features"
    if not isinstance(inputs, Mapping):
        raise GraphError("'inputs' must be an object", pid)
    unknown = sorted(set(inputs) - {"segments", "data", *REGION_INPUTS})
    if unknown:
        raise GraphError(f"unknown input(s) {unknown}", pid)
    if "segments" not in inputs:
        raise GraphError("missing input 'segments' (a segment process)", pid)
    seg = parse_node(inputs["segments"], ctx.resolve, f"{pid}.inputs.segments", ctx.processes)
    if not (isinstance(seg, ProcessNode) and seg.process == "segment"):
        raise GraphError("'segments' must be a segment process", f"{pid}.inputs.segments")
    nodes = [seg]
    if "data" in inputs:
        nodes.append(parse_node(inputs["data"], ctx.resolve, f"{pid}.inputs.data", ctx.processes))
    region = parse_region(pid, inputs)
    if region is None:
        raise GraphError("a bbox is needed: the region to segment", f"{pid}.inputs.bbox")
    check_budget(nodes, region.grid(), ctx.max_pixels, ctx.lookup)
    colls = set().union(*(collections_of(n) for n in nodes))
    return {"graphs": [canonical(n) for n in nodes], "region": region.__dict__ | {"bbox": list(region.bbox)},
            "bands": list(output_bands(nodes[1], ctx.resolve)) if len(nodes) > 1 else [],
            "collections": {c: ctx.lookup(c).to_dict() for c in sorted(colls)}}


def features(request: Mapping[str, Any], executor: Executor | None = None) -> dict[str, Any]:
    colls = {k: source_from_dict(v) for k, v in request["collections"].items()}
    nodes = [parse_node(g, colls.__getitem__) for g in request["graphs"]]
    r = request["region"]
    grid = Region(r["crs"], tuple(r["bbox"]), r["width"], r["height"]).grid()
    rasters = evaluate_region(nodes, grid, colls.__getitem__, executor, chunk=request.get("chunk", 1024))
    seg = rasters[0]
    labels = seg.data[0]
    valid = seg.mask
    ids, idx = np.unique(np.where(valid, labels, 0), return_inverse=True)
    idx = idx.reshape(labels.shape)
    if len(ids) > MAX_FEATURES:
        raise GraphError(f"the region has {len(ids)} segments; at most {MAX_FEATURES} (a smaller bbox or larger segments)")
    count = np.bincount(idx[valid], minlength=len(ids))
    means: dict[str, np.ndarray] = {}
    if len(rasters) > 1:
        data = rasters[1]
        ok = valid & data.mask
        n = np.bincount(idx[ok], minlength=len(ids))
        for name, band in zip(request["bands"], data.data):
            with np.errstate(invalid="ignore", divide="ignore"):
                means[name] = np.bincount(idx[ok], band[ok].astype(np.float64), minlength=len(ids)) / n
    polys: dict[int, list] = {}
    for geom, k in shapes(idx.astype(np.int32), mask=valid, transform=grid.transform, connectivity=4):
        polys.setdefault(int(k), []).append(shapely.geometry.shape(geom))
    to84 = Transformer.from_crs(grid.crs, "OGC:CRS84", always_xy=True)
    cell = abs(grid.transform.a * grid.transform.e)
    out = []
    for k, parts in sorted(polys.items()):
        g = shapely.union_all(parts)
        g84 = shapely.transform(g, lambda xy: np.column_stack(to84.transform(xy[:, 0], xy[:, 1])))
        props = {"segment": int(ids[k]), "pixels": int(count[k]), "area": float(count[k] * cell)}
        props.update({f"mean_{b}": (None if not np.isfinite(m[k]) else float(m[k])) for b, m in means.items()})
        out.append({"type": "Feature", "id": int(ids[k]), "geometry": shapely.geometry.mapping(g84), "properties": props})
    return {"type": "FeatureCollection", "features": out, "numberReturned": len(out)}


def run_job_work(request: dict, results_dir: Path, progress: Callable[[int, str], None],
                 executor: Executor | None = None) -> dict:
    progress(5, "segmenting")
    (results_dir / "segments.geojson").write_text(json.dumps(features(request, executor)))
    progress(100, "done")
    return {"segments": {"file": "segments.geojson", "mediaType": "application/geo+json"}}
