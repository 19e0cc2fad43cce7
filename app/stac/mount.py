"""The ASGI adapter mounted at /stac in front of the STAC backend application.

- search parameters (`/search` GET and POST, `/collections/{id}/items`) are checked first
  (`checks`): bad input raises the service's own ApiError, rendered by app/errors.py;
- the backend's own error bodies (`{code, description}`) become RFC 7807 problem documents;
- exported root-relative asset hrefs become absolute URLs of this service;
- the backend never compresses (the client's Accept-Encoding is not forwarded) so bodies can be read.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ..errors import COMMON, NotFound, problem
from .checks import check_search
from .export import absolute_hrefs

log = logging.getLogger("geodeferred")
SEARCH_PATHS = re.compile(r"^/(search|collections/[^/]+/items)/?$")
TITLES = {400: "Invalid parameter value", 404: "Not found", 405: "Method not allowed", 406: "Not acceptable"}
GEOJSON = "application/geo+json"
TYPES = {400: COMMON + "invalid-parameter-value", 404: COMMON + "not-found"}


def _base(request: Request, public_url: str | None) -> str:
    return (public_url or str(request.base_url)).rstrip("/")


def _params(request: Request, body: bytes) -> dict[str, Any] | None:
    if request.method == "GET":
        return {k: v[-1] for k, v in parse_qs(request.url.query, keep_blank_values=True).items()}
    try:
        doc = json.loads(body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None  # the backend answers a malformed body with a 400 of its own
    return doc if isinstance(doc, dict) else None


def _public(scope: dict[str, Any], public_url: str, mount: str) -> None:
    """Make the backend's links start with the configured public URL (e.g. behind a proxy)."""
    url = urlsplit(public_url.rstrip("/"))
    scope["scheme"] = url.scheme or scope["scheme"]
    scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"] + [(b"host", url.netloc.encode())]
    scope["app_root_path"] = url.path + mount


def _lists(params: dict[str, Any]) -> bool:
    """A lone collection or item id where a POST search wants an array (stac-api-validator sends
    one): accepted as a one-element array. True when the body changed."""
    changed = False
    for key in ("collections", "ids"):
        if isinstance(params.get(key), str):
            params[key] = [params[key]]
            changed = True
    return changed


async def _forward(app: Any, scope: Scope, body: bytes, request: Request) -> tuple[Message, bytes]:
    """Run the backend on one request; its response start message and whole body."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    start: Message = {}
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await app(scope, replay, capture)
    except Exception as exc:  # the backend raised past its own handlers (e.g. a DuckDB error)
        if start.get("status", 500) < 500:
            raise
        log.error("STAC backend error on %s %s", request.method, request.url.path, exc_info=exc)
        return {"status": 500, "headers": []}, b""
    return start, b"".join(chunks)


class StacMount:
    """Forwards to `services.stac.app` of the running service (built in its lifespan)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = scope["app"].state.services
        stac = services.stac
        if stac is None:
            raise NotFound("this service has no STAC API (no catalogued STAC collection)")
        request = Request(scope, receive)
        body = await request.body()
        root, path = scope.get("root_path", ""), scope["path"]
        if request.method in ("GET", "POST") and SEARCH_PATHS.match(path.removeprefix(root)):
            params = _params(request, body)
            if params is not None:
                check_search(params, stac.queryables)
                if request.method == "POST" and _lists(params):
                    body = json.dumps(params).encode()

        inner = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k != b"accept-encoding"])
        inner.pop("router", None)  # the backend's url_for looks up its own routes...
        inner["app_root_path"] = root  # ...under the mount's URL
        if services.settings.public_url:  # ...or under the configured public URL
            _public(inner, services.settings.public_url, root)
        start, content = await _forward(stac.app, inner, body, request)
        response = self._respond(request, start, content, services.settings.public_url)
        await response(scope, receive, send)

    def _respond(self, request: Request, start: Message, body: bytes, public_url: str | None) -> Response:
        status = start.get("status", 500)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start.get("headers", [])}
        ctype = headers.get("content-type", "")
        headers.pop("content-length", None)
        if status >= 400:
            return self._problem(request, status, body, headers)
        if "json" in ctype and body:
            doc = absolute_hrefs(json.loads(body), _base(request, public_url))
            body = json.dumps(doc, separators=(",", ":")).encode()
            if isinstance(doc, dict) and doc.get("type") in ("FeatureCollection", "Feature"):
                headers["content-type"] = GEOJSON  # searches, item pages and items, whatever the backend says
        return Response(body, status, headers=headers)

    def _problem(self, request: Request, status: int, body: bytes, headers: dict[str, str]) -> Response:
        try:
            doc = json.loads(body)
            detail = str(doc.get("description") or doc.get("detail") or doc)
        except (ValueError, AttributeError):
            detail = body.decode("utf-8", "replace") or TITLES.get(status, "HTTP error")
        if status >= 500:
            log.error("STAC backend error %d on %s %s: %s", status, request.method, request.url.path, detail[:2000])
            return problem(500, COMMON + "server-error", "Internal server error",
                           "The STAC backend could not complete the request (see the server log).", request.url.path)
        keep = {k: v for k, v in headers.items() if k.lower() in ("allow", "retry-after")}
        return problem(status, TYPES.get(status, COMMON + "http-error"), TITLES.get(status, "HTTP error"),
                       detail, request.url.path, keep)
