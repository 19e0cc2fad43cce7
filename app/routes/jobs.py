"""OGC API - Processes jobs: list, status, results, dismiss. Records and files live on disk."""
from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from processes.jobs import JobRecord

from ..errors import ApiError, Gone, NoSuchJob, ResultNotReady
from ..negotiate import base_url, document, link, self_links
from ..services import RESULTS_PREFIX

CONFORMANCE: list[str] = []
LISTED = ("accepted", "running", "successful", "failed")


def job_links(base: str, rec: JobRecord) -> list[dict]:
    url = f"{base}/jobs/{rec.jobID}"
    links = [link(url, "self", "application/json", "Job status"),
             link(url, "monitor", "application/json", "Job status"),
             link(f"{base}/processes/{rec.processID}", "up", "application/json", "Process")]
    if rec.status == "successful":
        links.append(link(f"{url}/results", "http://www.opengis.net/def/rel/ogc/1.0/results", "application/json", "Results"))
        coll = f"{base}/collections/{RESULTS_PREFIX}{rec.jobID}"
        for name, entry in (rec.results or {}).items():  # every GeoJSON result is also a features collection
            if name == "result" or entry.get("mediaType") != "application/geo+json":
                continue
            href = coll if name == "features" else f"{coll}-{name}"
            title = "Results" if name == "features" else name.capitalize()
            links.append(link(href, "collection", "application/json", f"{title} as an OGC API - Features collection"))
            links.append(link(f"{href}/items", "items", "application/geo+json", f"{title}: features"))
    return links


def _int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        v = int(raw)
    except ValueError:
        raise ApiError(f"{name} must be an integer") from None
    if not lo <= v <= hi:
        raise ApiError(f"{name} must be between {lo} and {hi}")
    return v


async def list_jobs(request: Request) -> Response:
    s = request.app.state.services
    base = base_url(request)
    limit, offset = _int(request, "limit", 100, 1, 1000), _int(request, "offset", 0, 0, 10**9)
    status = request.query_params.getlist("status") or list(LISTED)  # dismissed jobs are gone for clients
    pids = request.query_params.getlist("processID") or None
    recs = s.jobs.list(limit=limit + 1, offset=offset, status=status, process_id=pids)
    links = self_links(f"{base}/jobs", "Jobs")
    if len(recs) > limit:
        links.append(link(f"{base}/jobs?limit={limit}&offset={offset + limit}", "next", "application/json"))
    jobs = [r.status_info() | {"links": job_links(base, r)} for r in recs[:limit]]
    return document(request, {"jobs": jobs, "links": links}, "Jobs")


def _record(request: Request) -> JobRecord:
    """The job of the path; a dismissed job is gone for clients (OGC /req/dismiss: 404 afterwards)."""
    rec = request.app.state.services.jobs.get(request.path_params["job_id"])
    if rec.status == "dismissed":
        raise NoSuchJob(f"job {rec.jobID} was dismissed")
    return rec


async def status(request: Request) -> Response:
    rec = _record(request)
    doc = rec.status_info() | {"links": job_links(base_url(request), rec)}
    if rec.error:
        doc["message"] = rec.error
    return document(request, doc, f"Job {rec.jobID}")


def _ready(rec: JobRecord) -> dict:
    if rec.expired:
        raise Gone(f"the results of job {rec.jobID} expired at {rec.expired} (retention policy)")
    if rec.status == "failed":
        raise ApiError(f"job {rec.jobID} failed: {rec.error or rec.message}")
    if rec.status != "successful" or rec.results is None:
        raise ResultNotReady(f"job {rec.jobID} is {rec.status}; results are not ready")
    return rec.results


async def results(request: Request) -> Response:
    s = request.app.state.services
    rec = _record(request)
    manifest = _ready(rec)
    base = base_url(request)
    doc = {}
    for name, entry in manifest.items():
        if entry["mediaType"] == "application/json":
            doc[name] = json.loads(s.jobs.result_path(rec.jobID, entry["file"]).read_bytes())
        else:
            doc[name] = {"href": f"{base}/jobs/{rec.jobID}/results/{name}", "type": entry["mediaType"]}
    return document(request, doc, f"Results of job {rec.jobID}")


async def result_file(request: Request) -> Response:
    s = request.app.state.services
    rec = _record(request)
    manifest = _ready(rec)
    entry = manifest.get(request.path_params["output"])
    if entry is None:
        raise ResultNotReady(f"job {rec.jobID} has no output '{request.path_params['output']}'")
    return FileResponse(s.jobs.result_path(rec.jobID, entry["file"]), media_type=entry["mediaType"])


async def dismiss(request: Request) -> Response:
    s = request.app.state.services
    rec = s.jobs.dismiss(_record(request).jobID)
    return JSONResponse(rec.status_info() | {"links": job_links(base_url(request), rec)})


ROUTES = [
    Route("/jobs", list_jobs),
    Route("/jobs/{job_id}", status, methods=["GET"]),
    Route("/jobs/{job_id}", dismiss, methods=["DELETE"]),
    Route("/jobs/{job_id}/results", results),
    Route("/jobs/{job_id}/results/{output}", result_file),
]
