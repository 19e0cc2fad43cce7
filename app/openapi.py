"""The OpenAPI 3.0 document, built from the routes actually mounted (nothing external to resolve).

Each route module declares an `OPENAPI` mapping of path -> {method: operation}; path parameters are
derived from the path template, and a served route without a declaration still appears (with a
generic operation), so the document cannot silently miss an endpoint.
"""
from __future__ import annotations

import re
from typing import Any

from starlette.routing import Mount, Route

PROBLEM = {"type": "object", "required": ["type", "title", "status"],
           "properties": {"type": {"type": "string", "format": "uri"}, "title": {"type": "string"},
                          "status": {"type": "integer"}, "detail": {"type": "string"},
                          "instance": {"type": "string"}}}
_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")


def _declared(app) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for mod in getattr(app.state, "route_modules", []):
        for path, ops in getattr(mod, "OPENAPI", {}).items():
            out.setdefault(path, {}).update(ops)
    return out


def _schemas(app) -> dict[str, Any]:
    """Named schemas the route modules declare (`OPENAPI_SCHEMAS`), e.g. each process's execution request."""
    out: dict[str, Any] = {"exception": PROBLEM}
    for mod in getattr(app.state, "route_modules", []):
        schemas = getattr(mod, "OPENAPI_SCHEMAS", {})
        out.update(schemas() if callable(schemas) else schemas)
    return out


def _path_params(path: str) -> list[dict[str, Any]]:
    params = []
    for name, conv in _PARAM.findall(path):
        params.append({"name": name, "in": "path", "required": True,
                       "schema": {"type": "integer", "minimum": 0} if conv == "int" else {"type": "string"}})
    return params


def build(app, base: str) -> dict[str, Any]:
    declared = _declared(app)
    paths: dict[str, Any] = {}
    for route in app.routes:
        if isinstance(route, Mount) and route.path in declared:  # a mounted API with its own definition
            paths[route.path] = declared[route.path]
            continue
        if not isinstance(route, Route) or isinstance(route, Mount):
            continue
        template = _PARAM.sub(lambda m: "{" + m.group(1) + "}", route.path)
        methods = sorted((route.methods or {"GET"}) - {"HEAD"})
        item = paths.setdefault(template, {})
        for method in methods:
            op = dict(declared.get(route.path, {}).get(method.lower()) or declared.get(template, {}).get(method.lower())
                      or {"summary": route.name.replace("_", " ")})
            op.setdefault("operationId", f"{method.lower()}_{route.name}_{len(paths)}")
            params = _path_params(route.path) + op.get("parameters", [])
            if params:
                op["parameters"] = params
            op.setdefault("responses", {"200": {"description": "OK"}})
            op["responses"].setdefault("default", {"description": "An OGC exception (RFC 7807)",
                                                   "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/exception"}}}})
            item[method.lower()] = op
    return {"openapi": "3.0.3",
            "info": {"title": "geodeferred", "version": "0.1.0",
                     "description": "OGC API - Common, Tiles, Coverages, Processes (Part 1 and Part 3 workflows) and Features."},
            "servers": [{"url": base}], "paths": paths,
            "components": {"schemas": _schemas(app)}}
