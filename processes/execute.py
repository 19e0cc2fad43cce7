"""OGC API - Processes execution requests -> a graph, a region and the outputs wanted; producing
those outputs (synchronously, or as a job whose coordinator fans the chunks out to the executor).

Region inputs (bbox, crs, width, height, resolution) say where and how finely to evaluate the
graph, not what to compute. Every process description advertises them, and OGC API - Processes
validates a nested process's inputs against its own description, so a nested process takes them
too: an execution has one region, given at the top or in any nested process, and regions given
in several places must agree (a 400 names the one that differs).
"""
from __future__ import annotations

import math
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pyproj import CRS
from pyproj.exceptions import CRSError
from rasterio._err import CPLE_BaseError
from rasterio.warp import transform_bounds

from . import outputs
from .engine.errors import GraphError
from .engine.evaluate import bands_of
from .engine.executor import Executor
from .engine.graph import Node, Processes, Resolver, canonical, collections_of, parse_node, parse_process
from .engine.openeo import is_flat_graph, to_nested
from .engine.region import Region, region_parts
from .engine.sources import Source, source_from_dict

REGION_INPUTS = ("bbox", "crs", "width", "height", "resolution")
OUTPUTS = outputs.MEDIA_TYPES
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
MAX_SIDE = 32768


class ExecuteRequest(BaseModel):
    """The body of POST /processes/{id}/execution: validated by this model, and the same model is the
    request body schema in the API definition (`inputs` described per process there)."""

    model_config = ConfigDict(extra="forbid")
    process: str | None = Field(None, description="The process (URI or id), as Part 3 workflows write it; "
                                                  "the process posted to is the one run.")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Raster inputs (a collection, or a nested "
                                   "process), parameters and the region (bbox, crs, width, height, resolution).")
    outputs: dict[Literal["result", "statistics"], dict[str, Any]] = Field(
        default_factory=dict, description="The outputs wanted (default: result, a GeoTIFF).")
    response: Literal["raw", "document"] = Field("raw", description="raw: the one output as is; document: a JSON "
                                                                    "document holding every output.")
    process_graph: dict[str, dict[str, Any]] | None = Field(None, description="An openEO process graph whose "
                                                                              "result node runs this process.")


def _request(pid: str, body: Any) -> ExecuteRequest:
    if not isinstance(body, Mapping):
        raise GraphError("the execution request must be a JSON object with 'inputs'")
    try:
        return ExecuteRequest.model_validate(body)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"] if x != "[key]")
        raise GraphError(err["msg"], f"{pid}.{loc}" if loc else pid) from None


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


def _lift_regions(inputs: Mapping[str, Any], path: str) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """`inputs` with the region inputs of nested processes taken out, and those as (path, inputs)."""
    out: dict[str, Any] = {}
    found: list[tuple[str, dict[str, Any]]] = []
    for name, value in inputs.items():
        if isinstance(value, Mapping) and "process" in value and isinstance(value.get("inputs"), Mapping):
            where = f"{path}.inputs.{name}"
            inner, deeper = _lift_regions(value["inputs"], where)
            region = {k: inner.pop(k) for k in REGION_INPUTS if k in inner}
            if region:
                found.append((where, region))
            found += deeper
            value = {**value, "inputs": inner}
        out[name] = value
    return out, found


def _one_region(pid: str, inputs: Mapping[str, Any]) -> tuple[dict[str, Any], Region | None]:
    """The execution's region (top level or nested; all given must agree) and the inputs without it."""
    inputs, nested = _lift_regions(inputs, pid)
    region = parse_region(pid, inputs)
    first = {k: inputs[k] for k in REGION_INPUTS if k in inputs}
    for where, given in nested:
        other = parse_region(where, {**first, **given})  # what it leaves out is the region's already given
        if region is None:
            region, first = other, given
        elif other != region:
            raise GraphError("a nested process asks for another region than the execution's; give one bbox "
                             "(at the top level or in one nested process)", f"{where}.inputs.bbox")
    return {k: v for k, v in inputs.items() if k not in REGION_INPUTS}, region


def parse_execution(pid: str, body: Any, resolve: Resolver, processes: Processes | None = None) -> Execution:
    """An execution request: Part 1/3 `inputs` (nested processes, published ones found through
    `processes`), or an openEO `process_graph` whose result node must be the process the request
    was posted to."""
    req = _request(pid, body)
    inputs = req.inputs
    if req.process_graph is not None and is_flat_graph(body):
        root, graph_inputs = to_nested(req.process_graph)
        if root != pid:
            raise GraphError(f"the result node runs '{root}' but the request was posted to '{pid}'", "process_graph")
        inputs = {**graph_inputs, **inputs}
    inputs, region = _one_region(pid, inputs)
    node = parse_process(pid, inputs, resolve, processes=processes)
    return Execution(pid, node, region, tuple(req.outputs) or ("result",), req.response)


def job_request(node: Node, region: Region | None, wanted: tuple[str, ...],
                lookup: Callable[[str], Source]) -> dict[str, Any]:
    """Everything a job needs to evaluate a graph, even if the catalog changes meanwhile."""
    return {"graph": canonical(node), "region": asdict(region) if region else None, "outputs": list(wanted),
            "collections": {c: lookup(c).to_dict() for c in sorted(collections_of(node))}}


def produce(node: Node, region: Region | None, wanted: Sequence[str], lookup: Callable[[str], Source],
            executor: Executor | None, dest: Path, *, max_pixels: int | None = None, chunk: int = 1024,
            progress: Callable[[int, int], None] | None = None) -> dict[str, dict[str, str]]:
    """Evaluate the graph over the region, its chunks fanned out to the executor and streamed
    into the output files in `dest`; returns the results manifest."""
    if region is None:
        raise GraphError("a bbox is required to compute this output", "bbox")
    grid = region.grid()
    chunk, encode = outputs.encoder(grid, chunk, wanted)  # the workers compress their own chunks
    parts = region_parts([node], grid, lookup, executor, chunk=chunk, max_pixels=max_pixels, progress=progress,
                         then=encode)
    return outputs.write(parts, grid, bands_of(node, lookup), wanted, dest, chunk)


def produce_bytes(node: Node, region: Region | None, wanted: Sequence[str], lookup: Callable[[str], Source],
                  executor: Executor | None, *, max_pixels: int, chunk: int = 1024) -> dict[str, bytes]:
    """`produce` for a synchronous answer (bounded by `max_pixels`): the encoded outputs."""
    with tempfile.TemporaryDirectory(prefix="geodeferred-") as d:
        manifest = produce(node, region, wanted, lookup, executor, Path(d), max_pixels=max_pixels, chunk=chunk)
        return {name: (Path(d) / entry["file"]).read_bytes() for name, entry in manifest.items()}


def run_job_work(process_id: str, request: dict, results_dir: Path, progress: Callable[[int, str], None],
                 executor: Executor) -> dict:
    """The job coordinator's work: its chunks run as tasks of the executor, progress counts the
    finished ones. (The pixel budget was checked when the job was submitted.)"""
    from .analysis import ANALYSES, run_job_work as analysis_work  # analyses import this module

    if process_id in ANALYSES:
        return analysis_work(process_id, request, results_dir, progress, executor)
    colls = {k: source_from_dict(v) for k, v in request["collections"].items()}
    node = parse_node(request["graph"], colls.__getitem__)
    r = request.get("region")
    region = Region(r["crs"], tuple(r["bbox"]), r["width"], r["height"]) if r else None

    def chunk_done(done: int, total: int) -> None:
        progress(round(99 * done / total), f"{done} of {total} chunks computed")

    progress(0, "evaluating")
    return produce(node, region, request["outputs"], colls.__getitem__, executor, results_dir,
                   chunk=request.get("chunk", 1024), progress=chunk_done)
