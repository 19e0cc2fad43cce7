"""OGC API - Processes Part 2 (deploy, replace, undeploy) for workflows: an OGC application package
whose execution unit is a Part 3 workflow with `{"$input": name}` placeholders (processes.deployed)."""
from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from processes.deployed import Deployed, DuplicateProcess, ImmutableProcess, NoSuchDeployed, package, validate
from processes.engine.graph import parse_process
from processes.ogc import deployed_summary
from processes.ops import REGISTRY
from processes.workflows import WORKFLOWS

from ..errors import PayloadTooLarge
from ..negotiate import base_url, json_body

P2 = "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/"
CONFORMANCE = [P2 + "deploy-replace-undeploy", P2 + "ogcapppkg",
               "http://www.opengis.net/spec/ogcapi-processes-3/0.0/conf/deployable-workflows"]
_HASH = re.compile(r"^[0-9a-f]{24}$")
MAX_BODY = 256_000


async def _package(request: Request, pid: str | None = None) -> Deployed:
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        raise PayloadTooLarge(f"an application package is at most {MAX_BODY} bytes")
    s = request.app.state.services
    d = package(await json_body(request), pid)
    if d.id in REGISTRY or d.id in WORKFLOWS:
        raise (DuplicateProcess if pid is None else ImmutableProcess)(f"'{d.id}' is a built-in process")
    if d.id in s.catalog.rasters or d.id in s.catalog.features or _HASH.match(d.id):
        raise DuplicateProcess(f"'{d.id}' names a collection; deployed processes are collections too: choose another id")
    await run_in_threadpool(validate, d, lambda p, inputs: parse_process(p, inputs, s.resolve, processes=s.deployed.get))
    return d


async def deploy(request: Request) -> Response:
    s = request.app.state.services
    d = await _package(request)
    s.deployed.create(d)
    url = f"{base_url(request)}/processes/{d.id}"
    return JSONResponse(deployed_summary(d, base_url(request)), 201, headers={"Location": url})


def _mutable(request: Request) -> str:
    pid = request.path_params["pid"]
    if pid in REGISTRY or pid in WORKFLOWS:
        raise ImmutableProcess(f"'{pid}' is a built-in process: it cannot be replaced or undeployed")
    return pid


async def replace(request: Request) -> Response:
    pid = _mutable(request)
    if request.app.state.services.deployed.get(pid) is None:
        raise NoSuchDeployed(f"no deployed process '{pid}' to replace; deploy it with POST /processes")
    request.app.state.services.deployed.replace(await _package(request, pid))
    return Response(status_code=204)


async def undeploy(request: Request) -> Response:
    request.app.state.services.deployed.delete(_mutable(request))
    return Response(status_code=204)


async def application_package(request: Request) -> Response:
    d = request.app.state.services.deployed.get(request.path_params["pid"])
    if d is None:
        raise NoSuchDeployed(f"'{request.path_params['pid']}' is not a deployed process")
    desc = {"id": d.id, "title": d.title, "description": d.description, "version": d.version, "inputs": d.inputs}
    return JSONResponse({"processDescription": desc, "executionUnit": {"value": d.workflow, "mediaType": "application/ogcexec+json"}},
                        media_type="application/ogcapppkg+json")


ROUTES = [
    Route("/processes", deploy, methods=["POST"]),
    Route("/processes/{pid}", replace, methods=["PUT"]),
    Route("/processes/{pid}", undeploy, methods=["DELETE"]),
    Route("/processes/{pid}/package", application_package),
]

_PKG = {"required": True, "content": {"application/ogcapppkg+json": {"schema": {
    "type": "object", "required": ["processDescription", "executionUnit"],
    "properties": {"processDescription": {"type": "object", "description": "id, title, description, inputs "
                                          "(each placeholder's schema.default)"},
                   "executionUnit": {"type": "object", "description": "{\"value\": Part 3 workflow with "
                                     "{\"$input\": name} placeholders, \"mediaType\": \"application/ogcexec+json\"}"}}}}}}
OPENAPI = {
    "/processes": {"post": {"summary": "Deploy a workflow as a process (Part 2)", "tags": ["Processes"], "requestBody": _PKG,
                            "responses": {"201": {"description": "Deployed (Location: the process)"},
                                          "409": {"description": "The id exists"}}}},
    "/processes/{pid}": {"put": {"summary": "Replace a deployed workflow", "tags": ["Processes"], "requestBody": _PKG,
                                 "responses": {"204": {"description": "Replaced"}, "403": {"description": "Built-in process"}}},
                         "delete": {"summary": "Undeploy a deployed workflow", "tags": ["Processes"],
                                    "responses": {"204": {"description": "Undeployed"}, "403": {"description": "Built-in process"}}}},
    "/processes/{pid}/package": {"get": {"summary": "The application package of a deployed workflow", "tags": ["Processes"]}},
}
