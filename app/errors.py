"""One table from exception classes to HTTP status and OGC exception type; RFC 7807 bodies.

Handlers never put a trace or `str(exc)` of an unexpected error in a response: a 500 carries a
generic detail and a log id that finds the trace in the server log.
"""
from __future__ import annotations

import logging
import uuid

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from processes.engine.errors import BudgetExceeded, ChunkLost, EngineError, GraphError, OutOfBounds, UnknownCollection, UnknownProcess
from processes.deployed import DuplicateProcess, ImmutableProcess, NoSuchDeployed
from processes.filters import FilterError
from processes.graphs import GraphExpired
from processes.jobs import JobNotFound, ResultNotFound
from processes.models.runtime import ModelError
from processes.ops._models import UnknownModel

log = logging.getLogger("geodeferred")
PROC = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
COMMON = "http://www.opengis.net/def/exceptions/ogcapi-common-1/1.0/"
DRU = "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/"


class ApiError(Exception):
    status = 400
    type = COMMON + "invalid-parameter-value"
    title = "Invalid parameter value"

    def __init__(self, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}


class NotFound(ApiError):
    status, type, title = 404, COMMON + "not-found", "Not found"


class NoSuchProcess(NotFound):
    type, title = PROC + "no-such-process", "No such process"


class NoSuchJob(NotFound):
    type, title = PROC + "no-such-job", "No such job"


class ResultNotReady(NotFound):
    type, title = PROC + "result-not-ready", "Result not ready"


class Gone(ApiError):
    """A job's results or a stored workflow result removed by the retention policy (Part 3 allows 410)."""

    status, type, title = 410, COMMON + "gone", "Gone"


class NotAcceptable(ApiError):
    status, type, title = 406, COMMON + "not-acceptable", "Not acceptable"


class UnsupportedMediaType(ApiError):
    status, type, title = 415, COMMON + "unsupported-media-type", "Unsupported media type"


class PayloadTooLarge(ApiError):
    status, type, title = 413, COMMON + "payload-too-large", "Request too large"


class Overloaded(ApiError):
    status, type, title = 503, COMMON + "overloaded", "Server busy"


# Exceptions raised below the HTTP layer -> (status, type, title).
TABLE: list[tuple[type[BaseException], int, str, str]] = [
    (UnknownProcess, 400, PROC + "invalid-workflow", "Unknown process in workflow"),
    (UnknownCollection, 400, COMMON + "invalid-parameter-value", "Unknown collection in workflow"),
    (GraphError, 400, PROC + "invalid-workflow", "Invalid workflow"),
    (BudgetExceeded, 400, PROC + "pixel-budget-exceeded", "Request exceeds the pixel budget"),
    (OutOfBounds, 404, COMMON + "not-found", "Outside of the data"),
    (DuplicateProcess, 409, DRU + "duplicated-process", "Duplicated process"),
    (ImmutableProcess, 403, DRU + "immutable-process", "Immutable process"),
    (NoSuchDeployed, 404, PROC + "no-such-process", "No such process"),
    (GraphExpired, 410, COMMON + "gone", "Gone"),
    (JobNotFound, 404, PROC + "no-such-job", "No such job"),
    (ResultNotFound, 404, PROC + "result-not-ready", "Result not ready"),
    (EngineError, 400, COMMON + "invalid-parameter-value", "Invalid request"),
    (ChunkLost, 503, COMMON + "overloaded", "Workers lost"),
    (UnknownModel, 404, COMMON + "not-found", "No such model"),
    (ModelError, 400, COMMON + "invalid-parameter-value", "Invalid model"),
    (FilterError, 400, COMMON + "invalid-parameter-value", "Invalid filter"),
]
RETRY_AFTER = {ChunkLost: "5"}  # seconds, for the 503s of this table


def _text(s: str) -> str:
    """Details echo client input: lone surrogates and the like must not break the JSON encoding."""
    return s.encode("utf-8", "replace").decode("utf-8")[:2000]


def problem(status: int, type_: str, title: str, detail: str, instance: str, headers: dict | None = None,
            request: Request | None = None) -> Response:
    """The RFC 7807 document; given the request, the same content as an HTML page for a browser
    (f=html or Accept: text/html first)."""
    from .html import prefers_html, render_html

    detail, instance = _text(detail), _text(instance)
    body = {"type": type_, "title": title, "status": status, "detail": detail, "instance": instance}
    # 'code' and 'description' keep pygeoapi-era clients (and owslib) able to read the message.
    body["code"] = title.replace(" ", "")
    body["description"] = detail
    if request is not None and prefers_html(request):
        return HTMLResponse(render_html(f"{status} {title}", body), status, headers=headers)
    return JSONResponse(body, status, headers=headers, media_type="application/problem+json")


async def api_error(request: Request, exc: ApiError) -> Response:
    return problem(exc.status, exc.type, exc.title, exc.detail, request.url.path, exc.headers, request)


async def engine_error(request: Request, exc: Exception) -> Response:
    for cls, status, type_, title in TABLE:
        if isinstance(exc, cls):
            retry = RETRY_AFTER.get(cls)
            return problem(status, type_, title, str(exc), request.url.path, {"Retry-After": retry} if retry else None,
                           request)
    return await unexpected(request, exc)


async def http_error(request: Request, exc: HTTPException) -> Response:
    titles = {404: "Not found", 405: "Method not allowed", 400: "Bad request"}
    type_ = COMMON + ("not-found" if exc.status_code == 404 else "http-error")
    detail = exc.detail if isinstance(exc.detail, str) else titles.get(exc.status_code, "HTTP error")
    return problem(exc.status_code, type_, titles.get(exc.status_code, "HTTP error"), detail, request.url.path,
                   dict(exc.headers or {}), request)


async def unexpected(request: Request, exc: Exception) -> Response:
    log_id = uuid.uuid4().hex[:12]
    log.error("unexpected error %s on %s %s", log_id, request.method, request.url.path, exc_info=exc)
    return problem(500, COMMON + "server-error", "Internal server error",
                   f"The server could not complete the request (log id {log_id}).", request.url.path, request=request)


HANDLERS = {
    ApiError: api_error,
    HTTPException: http_error,
    EngineError: engine_error,
    FilterError: engine_error,
    JobNotFound: engine_error,
    ResultNotFound: engine_error,
    ChunkLost: engine_error,
    UnknownModel: engine_error,
    ModelError: engine_error,
    DuplicateProcess: engine_error,
    ImmutableProcess: engine_error,
    NoSuchDeployed: engine_error,
    GraphExpired: engine_error,
    Exception: unexpected,
}
