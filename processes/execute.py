"""OGC API - Processes execution requests -> a graph, a region and the outputs wanted; and the
job work function that evaluates them (module-level, so a process pool or dask can run it).

Region inputs (bbox, crs, width, height, resolution) belong to the top-level process only: they
say where and how finely to evaluate the graph, not what to compute.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from pyproj import CRS
from pyproj.exceptions import CRSError
from rasterio._err import CPLE_BaseError
from rasterio.warp import transform_bounds

from . import outputs
from .engine.errors import GraphError
from .engine.executor import Executor, make_executor
from .engine.graph import Node, Resolver, canonical, collections_of, parse_node, parse_process
from .engine.grid import Grid
from .engine.openeo import is_flat_graph, to_nested
from .engine.region import check_budget, evaluate_region
from .engine.sources import Source, source_from_dict

REGION_INPUTS = ("bbox", "crs", "width", "height", "resolution")
OUTPUTS = {"result": outputs.GEOTIFF, "statistics": "application/json"}
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
MAX_SIDE = 32768


@dataclass(frozen=True)
class Region:
    crs: str
    bbox: tuple[float, float, float, float]
    width: int
    height: int

    def grid(self) -> Grid:
        return Grid.from_bounds(self.crs, self.bbox, self.width, self.height)


@dataclass(frozen=True)
class Execution:
    process: str
    node: Node
    region: Region | None
    outputs: tuple[str, ...]
    response: str  # "raw" or "document"


def crs_text(value: Any, where: str) -> str:
    """A CRS given as an OGC URI, 'EPSG:n' or similar -> text pyproj and rasterio accept."""
    if not isinstance(value, str):
        raise GraphError("a CRS must be a string (e.g. an OGC CRS URI)", where)
    if value.rstrip("/") in (CRS84, "OGC:CRS84", "CRS84"):
        return "OGC:CRS84"
    if "/def/crs/EPSG/" in value:
        value = "EPSG:" + value.rstrip("/").rsplit("/", 1)[1]
    try:
        crs = CRS.from_user_input(value)
    except CRSError:
        raise GraphError(f"unknown CRS '{value}'", where) from None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def _number(v: Any, where: str, positive: bool = True) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (positive and v <= 0):
        raise GraphError("must be a positive finite number" if positive else "must be a finite number", where)
    return float(v)


def parse_region(pid: str, inputs: Mapping[str, Any]) -> Region | None:
    raw = inputs.get("bbox")
    if raw is None:
        if any(k in inputs for k in REGION_INPUTS):
            raise GraphError("width, height, resolution and crs need a bbox", f"{pid}.inputs.bbox")
        return None
    where = f"{pid}.inputs.bbox"
    bbox_crs = CRS84
    if isinstance(raw, Mapping):
        bbox_crs = raw.get("crs", CRS84)
        raw = raw.get("bbox")
    if not isinstance(raw, list) or len(raw) != 4:
        raise GraphError("bbox must be [minx, miny, maxx, maxy] or {\"bbox\": [...], \"crs\": ...}", where)
    w, s, e, n = (_number(v, where, positive=False) for v in raw)
    if not (w < e and s < n):
        raise GraphError("bbox must have minx < maxx and miny < maxy", where)
    crs = crs_text(inputs.get("crs", bbox_crs), f"{pid}.inputs.crs")
    src_crs = crs_text(bbox_crs, where)
    if src_crs != crs:
        try:
            w, s, e, n = transform_bounds(src_crs, crs, w, s, e, n, densify_pts=21)
        except (CPLE_BaseError, ValueError):
            raise GraphError(f"the bbox cannot be transformed from {src_crs} to {crs}", f"{pid}.inputs.crs") from None
    if not all(math.isfinite(v) for v in (w, s, e, n, e - w, n - s)):
        raise GraphError("the bbox is not a finite area (in the output CRS)", where)
    if "resolution" in inputs:
        res = _number(inputs["resolution"], f"{pid}.inputs.resolution")
        cols, rows = (e - w) / res, (n - s) / res
        if not (cols <= MAX_SIDE and rows <= MAX_SIDE):
            raise GraphError(f"that resolution gives more than {MAX_SIDE} pixels a side", f"{pid}.inputs.resolution")
        width, height = math.ceil(cols), math.ceil(rows)
        e, s = w + width * res, n - height * res
    else:
        width = _number(inputs.get("width", 512), f"{pid}.inputs.width")
        height = _number(inputs["height"], f"{pid}.inputs.height") if "height" in inputs else width * (n - s) / (e - w)
        if not (width <= MAX_SIDE and height <= MAX_SIDE):
            raise GraphError(f"the output would be more than {MAX_SIDE} pixels a side", where)
        width, height = int(width), max(1, round(height))
    if width > MAX_SIDE or height > MAX_SIDE:
        raise GraphError(f"the output would be {width} x {height} pixels; at most {MAX_SIDE} a side", where)
    return Region(crs, (w, s, e, n), max(1, width), max(1, height))


def parse_execution(pid: str, body: Any, resolve: Resolver) -> Execution:
    """An execution request: Part 1/3 `inputs` (nested processes), or an openEO `process_graph`
    whose result node must be the process the request was posted to."""
    if not isinstance(body, Mapping):
        raise GraphError("the execution request must be a JSON object with 'inputs'")
    if not isinstance(body.get("inputs", {}), Mapping):
        raise GraphError("'inputs' must be an object", pid)
    if is_flat_graph(body):
        root, graph_inputs = to_nested(body["process_graph"])
        if root != pid:
            raise GraphError(f"the result node runs '{root}' but the request was posted to '{pid}'", "process_graph")
        body = {**body, "inputs": {**graph_inputs, **(body.get("inputs") or {})}}
    inputs = body.get("inputs", {})
    if not isinstance(inputs, Mapping):
        raise GraphError("'inputs' must be an object", pid)
    region = parse_region(pid, inputs)
    node = parse_process(pid, {k: v for k, v in inputs.items() if k not in REGION_INPUTS}, resolve)
    wanted = body.get("outputs") or {}
    if not isinstance(wanted, Mapping):
        raise GraphError("'outputs' must be an object", pid)
    unknown = [o for o in wanted if o not in OUTPUTS]
    if unknown:
        raise GraphError(f"unknown output(s) {unknown}; this process has {list(OUTPUTS)}", f"{pid}.outputs")
    response = body.get("response", "raw")
    if response not in ("raw", "document"):
        raise GraphError("'response' must be 'raw' or 'document'", pid)
    return Execution(pid, node, region, tuple(wanted) or ("result",), response)


def job_request(node: Node, region: Region | None, wanted: tuple[str, ...],
                lookup: Callable[[str], Source]) -> dict[str, Any]:
    """Everything a worker needs to evaluate a graph, even if the catalog changes meanwhile."""
    return {"graph": canonical(node), "region": asdict(region) if region else None, "outputs": list(wanted),
            "collections": {c: lookup(c).to_dict() for c in sorted(collections_of(node))}}


def run(request: Mapping[str, Any], executor: Executor, max_pixels: int, chunk: int = 1024) -> dict[str, bytes]:
    """Evaluate a stored job request and encode the requested outputs."""
    colls = {k: source_from_dict(v) for k, v in request["collections"].items()}
    node = parse_node(request["graph"], lambda c: colls[c])
    if request.get("region") is None:
        raise GraphError("a bbox is required to compute this output", "bbox")
    r = request["region"]
    grid = Region(r["crs"], tuple(r["bbox"]), r["width"], r["height"]).grid()
    check_budget([node], grid, max_pixels, colls.__getitem__)
    (raster,) = evaluate_region([node], grid, colls, executor, chunk)
    out: dict[str, bytes] = {}
    if "result" in request["outputs"]:
        out["result"] = outputs.geotiff(raster, grid)
    if "statistics" in request["outputs"]:
        out["statistics"] = json.dumps(outputs.statistics(raster)).encode()
    return out


FILES = {"result": "result.tif", "statistics": "statistics.json"}


def run_job_work(process_id: str, request: dict, results_dir: Path, progress: Callable[[int, str], None]) -> dict:
    """The job runner's work function: evaluate in this worker process, write one file per output."""
    progress(5, "evaluating")
    produced = run(request, make_executor("inline"), request.get("max_pixels", 400_000_000))
    manifest = {}
    for name, data in produced.items():
        (results_dir / FILES[name]).write_bytes(data)
        manifest[name] = {"file": FILES[name], "mediaType": OUTPUTS[name]}
    progress(100, "done")
    return manifest
