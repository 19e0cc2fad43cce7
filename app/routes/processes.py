"""OGC API - Processes Part 1 (list, describe, execute sync/async) and Part 3 workflows
(nested processes, collection input, collection output with response=collection|landingPage)."""
from __future__ import annotations

import base64
import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from processes.engine.region import check_budget
from processes.analysis import ANALYSES
from processes.execute import OUTPUTS, ExecuteRequest, job_request, parse_execution, produce_bytes
from processes.ogc import all_summaries, deployed_description, description
from processes.ops import REGISTRY
from processes.workflows import WORKFLOWS

from processes.jobs import ACTIVE

from .. import load
from ..errors import ApiError, NoSuchProcess, Overloaded
from ..negotiate import base_url, document, json_body, link, self_links
from ..queries import openapi_schema
from . import analyses
from .jobs import job_links

P1 = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"
P3 = "http://www.opengis.net/spec/ogcapi-processes-3/0.0/conf/"
CONFORMANCE = [P1 + c for c in ("core", "ogc-process-description", "json", "html", "oas30", "job-list", "dismiss")] + \
              [P3 + c for c in ("nested-processes", "collection-input", "collection-output")]


def _op(pid: str):
    op = REGISTRY.get(pid) or WORKFLOWS.get(pid) or ANALYSES.get(pid)
    if op is None:
        raise NoSuchProcess(f"unknown process '{pid}'; see /processes")
    return op


async def list_processes(request: Request) -> Response:
    base = base_url(request)
    store = request.app.state.services.deployed
    deployed = [d for d in map(store.get, store.ids()) if d is not None]
    doc = {"processes": all_summaries(base, deployed), "links": self_links(f"{base}/processes", "Processes")}
    return document(request, doc, "Processes")


def example_request(request: Request, op) -> dict:
    """An execution request that works on the demo catalog: for the HTML page's form."""
    if analyses.is_analysis(op.id):
        return analyses.example_request(request, op.id)
    if op.id in WORKFLOWS:  # its parameter examples are a request that works on the demo catalog
        return {"inputs": {n: f.examples[0] for n, f in op.params.model_fields.items() if f.examples}}
    rasters = request.app.state.services.catalog.rasters
    wanted = {str(f.examples[0]) for f in op.params.model_fields.values() if f.examples}
    cid = next((c for c, e in rasters.items() if wanted and wanted <= set(e.collection.band_names)), None)
    if cid is None:
        cid = next((c for c, e in rasters.items() if "terrain" in op.keywords and len(e.collection.band_names) == 1),
                   next(iter(rasters), None))
    ref: dict = {"collection": cid}
    source = rasters[cid].collection if cid is not None else None
    if source is not None and source.is_series:  # one date: a sync example within the pixel budget
        ref["datetime"] = source.temporal[1][:10]
    inputs: dict = {name: dict(ref) for name in op.inputs}
    for name, f in op.params.model_fields.items():
        if f.is_required() and f.examples:
            inputs[name] = f.examples[0]
    if cid is not None:
        w, s, e, n = rasters[cid].bbox
        cx, cy, dx, dy = (w + e) / 2, (s + n) / 2, (e - w) / 16, (n - s) / 16
        inputs |= {"bbox": [round(cx - dx, 4), round(cy - dy, 4), round(cx + dx, 4), round(cy + dy, 4)], "width": 256}
    return {"inputs": inputs}


async def describe(request: Request) -> Response:
    d = request.app.state.services.deployed.get(request.path_params["pid"])
    if d is not None:
        return document(request, deployed_description(d, base_url(request)), d.title)
    op = _op(request.path_params["pid"])
    base = base_url(request)
    page = {"example": example_request(request, op), "execute_href": f"{base}/processes/{op.id}/execution"}
    return document(request, description(op, base), op.title, page=page)


def _title(s, pid: str) -> str:
    """The title of a published (deployed) or built-in process; 404 for an unknown id."""
    d = s.deployed.get(pid)
    return d.title if d is not None else _op(pid).title


def _wants_async(request: Request) -> bool:
    prefer = request.headers.get("prefer", "").lower().replace(" ", "")
    return "respond-async" in prefer.split(",")


async def execute(request: Request) -> Response:
    s = request.app.state.services
    if analyses.is_analysis(request.path_params["pid"]):
        return await analyses.execute(request, request.path_params["pid"], _wants_async(request))
    mode = request.query_params.get("response")
    if mode not in (None, "collection", "landingPage"):
        raise ApiError("response must be 'collection' or 'landingPage' (or absent)")
    pid = request.path_params["pid"]
    title = _title(s, pid)
    ex = await run_in_threadpool(parse_execution, pid, await json_body(request), s.resolve, s.deployed.get)
    base = base_url(request)
    if mode is not None:  # Part 3: defer everything, answer with where the result can be read
        if ex.outputs != ("result",):
            raise ApiError("only the raster output 'result' can be returned as a collection")
        gid = s.graphs.put(ex.node, {"title": f"{title} workflow", "process": pid})
        target = f"{base}/collections/{gid}" if mode == "collection" else f"{base}/results/{gid}"
        return RedirectResponse(target, status_code=303)
    if ex.region is None:
        raise ApiError("a 'bbox' input is needed to compute a result (or use ?response=collection for a deferred one)")
    if _wants_async(request):
        check_budget([ex.node], ex.region.grid(), s.settings.max_job_pixels, s.lookup)
        if len(s.jobs.list(status=ACTIVE)) >= s.settings.max_active_jobs:
            raise Overloaded("too many jobs are waiting or running; retry later", {"Retry-After": "30"})
        job = job_request(ex.node, ex.region, ex.outputs, s.lookup) | {"chunk": s.settings.region_chunk}
        rec = s.jobs.create(pid, job)
        s.runner.start(rec.jobID)
        url = f"{base}/jobs/{rec.jobID}"
        return JSONResponse(rec.status_info() | {"links": job_links(base, rec)}, 201,
                            headers={"Location": url, "Preference-Applied": "respond-async"})
    with load.computing(s.settings.max_sync_executions, "executions", retry_after=5):
        produced = await load.unless_disconnected(request, None, produce_bytes, ex.node, ex.region, ex.outputs,
                                                  s.lookup, s.executor, max_pixels=s.settings.max_sync_pixels,
                                                  chunk=s.settings.region_chunk)
    if produced is None:  # the client went away: nobody reads this
        return Response(status_code=499)
    if len(produced) == 1 and ex.response == "raw":
        (name, data), = produced.items()
        return Response(data, media_type=OUTPUTS[name] if name != "statistics" else "application/json")
    doc = {}
    for name, data in produced.items():
        if name == "statistics":
            doc[name] = json.loads(data)
        else:
            doc[name] = {"value": base64.b64encode(data).decode(), "encoding": "base64", "mediaType": OUTPUTS[name]}
    return JSONResponse(doc)


async def results_landing(request: Request) -> Response:
    """Part 3 response=landingPage: a landing page whose collections list holds the deferred result."""
    from .common import raster_collection

    s = request.app.state.services
    gid = request.path_params["gid"]
    if s.graphs.get(gid) is None:
        raise NoSuchProcess(f"no workflow result '{gid}'")
    base = base_url(request)
    url = f"{base}/results/{gid}"
    if request.url.path.endswith("/collections"):
        return document(request, {"collections": [raster_collection(request, gid)],
                                  "links": self_links(f"{url}/collections", "Collections")}, "Collections")
    doc = {"title": f"Workflow result {gid}", "links": self_links(url, "Landing page") + [
        link(f"{url}/collections", "data", "application/json", "Collections"),
        link(f"{base}/conformance", "conformance", "application/json"),
        link(f"{base}/api", "service-desc", "application/vnd.oai.openapi+json;version=3.0")]}
    return document(request, doc, doc["title"])


# ---------------------------------------------------------------- OpenAPI: one execution request schema per process
def _execute_schema(op) -> dict:
    schema = openapi_schema(ExecuteRequest)
    inputs = description(op, "")["inputs"]
    schema["properties"]["inputs"] = {
        "type": "object", "additionalProperties": False,
        "description": schema["properties"]["inputs"].get("description", ""),
        "required": [k for k, v in inputs.items() if v.get("minOccurs", 0) > 0],
        "properties": {k: {**v["schema"], "description": f"{v.get('title', k)}. {v.get('description', '')}".strip()}
                       for k, v in inputs.items()}}
    schema["title"] = f"Execution request: {op.id}"
    return schema


def OPENAPI_SCHEMAS() -> dict:
    return {f"execute-{pid}": _execute_schema(op) for pid, op in (*REGISTRY.items(), *WORKFLOWS.items())}


OPENAPI = {"/processes/{pid}/execution": {"post": {
    "summary": "Execute a process (sync, async with Prefer: respond-async, or deferred with response=collection)",
    "tags": ["Processes"],
    "parameters": [{"name": "response", "in": "query", "required": False,
                    "description": "Part 3: `collection` answers 303 to a deferred result collection, `landingPage` "
                                   "to a landing page holding it.",
                    "schema": {"type": "string", "enum": ["collection", "landingPage"]}},
                   {"name": "Prefer", "in": "header", "required": False, "schema": {"type": "string", "example": "respond-async"}}],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "oneOf": [{"$ref": f"#/components/schemas/execute-{pid}"} for pid in (*REGISTRY, *WORKFLOWS)]}}}},
    "responses": {"200": {"description": "The output (raw) or a document of outputs"},
                  "201": {"description": "A job was created (async); Location: its status"},
                  "303": {"description": "The deferred result collection (response=collection)"}},
}}}


ROUTES = [
    Route("/processes", list_processes),
    Route("/processes/{pid}", describe),
    Route("/processes/{pid}/execution", execute, methods=["POST"]),
    Route("/results/{gid}", results_landing),
    Route("/results/{gid}/collections", results_landing),
]
