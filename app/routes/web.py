"""What the web pages need besides the documents: static files (Leaflet, Swagger UI, served locally so
the service works offline) and the list of recent workflow results (found again without their hash)."""
from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..negotiate import base_url, document, link, self_links
from ..queries import QueryModel, parameters, parse

CONFORMANCE: list[str] = []
STATIC = Path(__file__).resolve().parent.parent / "static"


class ResultsQuery(QueryModel):
    f: str | None = Field(None, description="json or html (overrides Accept).")
    limit: int = Field(50, ge=1, le=1000, description="How many results, newest first.")


async def results(request: Request) -> Response:
    q = parse(ResultsQuery, request.query_params)
    s = request.app.state.services
    base = base_url(request)
    entries = []
    for gid in s.graphs.recent(q.limit):
        doc = s.graphs.get(gid) or {}
        url = f"{base}/collections/{gid}"
        entries.append({"id": gid, "title": doc.get("title") or gid, "process": doc.get("process"),
                        "links": [link(url, "self", "application/json", "Result collection"),
                                  link(f"{url}/map/tiles/WebMercatorQuad", "http://www.opengis.net/def/rel/ogc/1.0/tileset-map",
                                       "application/json", "Map tiles")]})
    return document(request, {"results": entries, "links": self_links(f"{base}/results", "Workflow results")},
                    "Recent workflow results")


ROUTES = [
    Route("/results", results),
    Mount("/static/swagger-ui", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger-ui"),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]
OPENAPI = {"/results": {"get": {"summary": "Recent workflow results (deferred collections), newest first",
                                "parameters": parameters(ResultsQuery)}}}
