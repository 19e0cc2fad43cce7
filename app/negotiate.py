"""Content negotiation (`f=` first, then Accept), base URLs and JSON/HTML document responses."""
from __future__ import annotations

import json
from typing import Any, Iterable

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from .errors import NotAcceptable
from .html import render_html

ALIASES = {"json": "json", "html": "html", "png": "png", "webp": "webp", "jpeg": "jpeg", "jpg": "jpeg",
           "tif": "geotiff", "tiff": "geotiff", "geotiff": "geotiff", "geojson": "json"}
ACCEPT = {"text/html": "html", "application/json": "json", "application/geo+json": "json",
          "image/png": "png", "image/webp": "webp", "image/jpeg": "jpeg", "image/tiff": "geotiff",
          "application/problem+json": "json", "application/vnd.oai.openapi+json": "json"}


def base_url(request: Request) -> str:
    configured = request.app.state.services.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def choose_format(request: Request, allowed: Iterable[str], default: str | None = None) -> str:
    """The output format: `f=` wins; else the first Accept type we serve; else the default."""
    allowed = list(allowed)
    f = request.query_params.get("f")
    if f is not None:
        fmt = ALIASES.get(f.lower())
        if fmt not in allowed:
            raise NotAcceptable(f"f={f} is not available here; use one of {', '.join(allowed)}")
        return fmt
    accept = request.headers.get("accept", "")
    ranked = []
    for i, part in enumerate(accept.split(",")):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        ranked.append((-q, i, media.strip().lower()))
    for _, _, media in sorted(ranked):
        fmt = ACCEPT.get(media)
        if fmt in allowed:
            return fmt
    return default or allowed[0]


def document(request: Request, doc: dict[str, Any], title: str, *, media_type: str = "application/json",
             status: int = 200, headers: dict[str, str] | None = None, page: dict[str, Any] | None = None) -> Response:
    """A JSON document, or the same as an HTML page when the client asks for HTML (`page`: what only the
    page shows, e.g. an example execution request)."""
    fmt = choose_format(request, ["json", "html"], "json")
    if fmt == "html":
        return HTMLResponse(render_html(title, doc, page), status, headers=headers)
    return JSONResponse(doc, status, headers=headers, media_type=media_type)


def link(href: str, rel: str, type_: str | None = None, title: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"href": href, "rel": rel}
    if type_:
        out["type"] = type_
    if title:
        out["title"] = title
    out.update(extra)
    return out


def self_links(url: str, title: str) -> list[dict[str, Any]]:
    """Self/alternate links for a document served as JSON and HTML."""
    return [link(f"{url}?f=json", "self", "application/json", f"{title} (JSON)"),
            link(f"{url}?f=html", "alternate", "text/html", f"{title} (HTML)")]


MAX_BODY = 1 << 20  # an execution request is a graph, not data


async def json_body(request: Request) -> Any:
    """The request body as JSON; malformed or non-UTF-8 input is a 400, never a 500."""
    from .errors import ApiError, PayloadTooLarge, UnsupportedMediaType

    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype and not (ctype == "application/json" or ctype.endswith("+json")):
        raise UnsupportedMediaType(f"expected an application/json body, got {ctype}")
    raw = bytearray()
    async for piece in request.stream():  # bounded: never more than MAX_BODY bytes in memory
        raw += piece
        if len(raw) > MAX_BODY:
            raise PayloadTooLarge(f"the request body is larger than {MAX_BODY // 1024} KiB")
    raw = bytes(raw)
    if not raw.strip():
        raise ApiError("the request body is empty; expected a JSON execution request")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ApiError(f"the request body is not valid UTF-8 JSON: {e}") from None
    except (ValueError, RecursionError):  # e.g. a 5000-digit number, or nesting thousands deep
        raise ApiError("the request body is valid JSON but too large or too deeply nested to read") from None
