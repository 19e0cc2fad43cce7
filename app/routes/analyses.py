"""Execution of analysis processes (zonal statistics, time series; train-model and segment-features,
whose results are documents): sync (NDJSON streamed as features complete, or the documents), async
jobs whose feature results are also a features collection, and the one-click time-series query `GET /collections/{cid}/timeseries?coords=POINT(x y)&datetime=...`."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Mapping

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from processes.analysis import ANALYSES, parse, start
from processes.jobs import ACTIVE
from processes.zonal import encode

from .. import load
from ..errors import ApiError, NotFound, Overloaded
from ..negotiate import base_url, json_body
from ..services import RESULTS_PREFIX

CONFORMANCE: list[str] = []
FORMATS = {"json": encode.GEOJSON, "geojson": encode.GEOJSON, "csv": encode.CSV, "parquet": encode.PARQUET,
           "ndjson": encode.NDJSON}
TIMESERIES_PARAMS = {"coords", "datetime", "band", "statistics", "cloud_mask", "f"}


def media_type(request: Request, body: Mapping[str, Any]) -> str:
    """outputs.result.format.mediaType of the execution request, else ?f=, else GeoJSON."""
    outputs = body.get("outputs") or {}
    if not isinstance(outputs, Mapping) or set(outputs) - {"result"}:
        raise ApiError(f"this process has one output, 'result' (got {list(outputs)})")
    fmt = (outputs.get("result") or {}).get("format") or {}
    wanted = fmt.get("mediaType") if isinstance(fmt, Mapping) else None
    if wanted is None:
        f = request.query_params.get("f")
        if f is not None and f not in FORMATS:
            raise ApiError(f"f must be one of {', '.join(FORMATS)}")
        wanted = FORMATS.get(f or "json")
    if wanted not in encode.MEDIA_TYPES:
        raise ApiError(f"output format '{wanted}' is not one of {', '.join(encode.MEDIA_TYPES)}")
    return wanted


async def respond(request: Request, pid: str, job: dict[str, Any], media: str) -> Response:
    s = request.app.state.services
    records = await run_in_threadpool(start, pid, job, s.executor, s.settings.zonal_chunk,
                                     s.settings.max_sync_zonal_pixels)
    if media == encode.NDJSON:  # each feature as soon as its chunks are done
        return StreamingResponse(iterate_in_threadpool(encode.ndjson(records)), media_type=media)
    with load.computing(s.settings.max_sync_executions, "executions", retry_after=5):
        data = await run_in_threadpool(lambda: encode.encode(records, media))
    return Response(data, media_type=media)


async def respond_documents(request: Request, pid: str, job: dict[str, Any]) -> Response:
    """A document analysis (train-model, segment-features) run in this request: its documents as JSON."""
    s = request.app.state.services
    with tempfile.TemporaryDirectory() as tmp, load.computing(s.settings.max_sync_executions, "executions", retry_after=5):
        manifest = await run_in_threadpool(ANALYSES[pid].work, job, Path(tmp), lambda pct, msg="": None, s.executor)
        doc = {name: json.loads((Path(tmp) / entry["file"]).read_text()) for name, entry in manifest.items()}
    return JSONResponse(doc)


async def execute(request: Request, pid: str, asynchronous: bool) -> Response:
    from .jobs import job_links

    s = request.app.state.services
    body = await json_body(request)
    if not isinstance(body, Mapping):
        raise ApiError("the execution request must be a JSON object with 'inputs'")
    if request.query_params.get("response") is not None:
        raise ApiError(f"'{pid}' returns a document, not a collection: leave out ?response=")
    documents = ANALYSES[pid].documents
    media = None if documents else media_type(request, body)
    budget = s.settings.max_job_pixels if asynchronous else s.settings.max_sync_pixels
    job = await run_in_threadpool(parse, pid, body.get("inputs", {}), s.analysis_context(budget))
    if documents:  # their rasters are evaluated in the service's region chunks on the executor
        job["chunk"] = s.settings.region_chunk
    if not asynchronous:
        if documents:
            return await respond_documents(request, pid, job)
        return await respond(request, pid, job, media)
    if not documents:
        job["media_type"], job["chunk"] = media, s.settings.zonal_chunk
    if len(s.jobs.list(status=ACTIVE)) >= s.settings.max_active_jobs:
        raise Overloaded("too many jobs are waiting or running; retry later", {"Retry-After": "30"})
    rec = s.jobs.create(pid, job)
    s.runner.start(rec.jobID)
    url = f"{base_url(request)}/jobs/{rec.jobID}"
    return JSONResponse(rec.status_info() | {"links": job_links(base_url(request), rec)}, 201,
                        headers={"Location": url, "Preference-Applied": "respond-async"})


async def timeseries(request: Request) -> Response:
    """One click: the statistics of a point or polygon of a raster collection (or workflow) over time."""
    s = request.app.state.services
    cid = request.path_params["cid"]
    q = request.query_params
    unknown = sorted(set(q) - TIMESERIES_PARAMS)
    if unknown:
        raise ApiError(f"unknown query parameter(s) {', '.join(unknown)}; use {', '.join(sorted(TIMESERIES_PARAMS))}")
    if "coords" not in q:
        raise ApiError("coords is required: a WKT point or polygon in CRS84, e.g. POINT(3.1 43.4)")
    if cid not in s.catalog.rasters and s.virtual_doc(cid) is None:
        raise NotFound(f"unknown raster collection '{cid}'")
    inputs: dict[str, Any] = {"geometry": q["coords"], "datetime": q.get("datetime"), "data": _data(s, cid, q.get("band"))}
    if "statistics" in q:
        inputs["statistics"] = [x.strip() for x in q["statistics"].split(",") if x.strip()]
    if "cloud_mask" in q:
        inputs["cloud_mask"] = q["cloud_mask"]
    job = await run_in_threadpool(parse, "timeseries", inputs, s.analysis_context())
    return await respond(request, "timeseries", job, FORMATS.get(q.get("f") or "json", encode.GEOJSON))


def _data(s, cid: str, band: str | None) -> dict[str, Any]:
    """The value to follow: a workflow collection as it is, else one band, else the NDVI of B08/B04."""
    if cid not in s.catalog.rasters:
        return {"collection": cid}
    names = s.catalog.rasters[cid].collection.band_names
    if band is not None:
        if band not in names:
            raise ApiError(f"band '{band}' is not in collection '{cid}' (has {', '.join(names)})")
        return {"collection": cid, "bands": [band]}
    if {"B08", "B04"} <= set(names):
        return {"process": "normalized_difference",
                "inputs": {"data": {"collection": cid}, "a": "B08", "b": "B04", "name": "ndvi"}}
    if len([n for n in names if n != "SCL"]) == 1:
        return {"collection": cid, "bands": [n for n in names if n != "SCL"]}
    raise ApiError(f"collection '{cid}' has several bands: choose one with band= ({', '.join(names)})")


def example_request(request: Request, pid: str) -> dict[str, Any]:
    """An execution request for the HTML page's form: the first features collection of the catalog
    (zonal statistics) or the centre of the first raster collection (time series)."""
    cat = request.app.state.services.catalog
    if pid == "timeseries":
        w, s, e, n = next(iter(cat.rasters.values())).bbox if cat.rasters else (0, 0, 0, 0)
        return {"inputs": {"geometry": f"POINT({(w + e) / 2:.5f} {(s + n) / 2:.5f})"}}
    fid = next(iter(cat.features), "parcels")
    return {"inputs": {"features": {"collection": fid}, "statistics": ["mean", "count"]}}


def is_analysis(pid: str) -> bool:
    return pid in ANALYSES


ROUTES = [Route("/collections/{cid}/timeseries", timeseries)]
__all__ = ["execute", "is_analysis", "ROUTES", "CONFORMANCE", "RESULTS_PREFIX"]
