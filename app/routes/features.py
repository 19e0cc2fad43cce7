"""OGC API - Features Part 1 for the vector collections, served by pygeoapi's framework-free API functions.

pygeoapi (0.21) does paging, limits, parameter parsing and links; `app.features_provider` does the
data. One `pygeoapi.api.API` is built per public base URL from the catalog (its links come from
`server.url`). The handlers here adapt its `(headers, status, content)` answers and correct what
it gets wrong for OGC clients:
- GeoJSON goes out as `application/geo+json` (pygeoapi says `application/json`);
- 4xx bodies become our RFC 7807 documents; a pygeoapi 5xx becomes our generic 500;
- a `next` link only when more features follow (pygeoapi adds one whenever a page is full);
- query parameters that are neither standard nor a property of the collection are a 400, not
  silently dropped (pygeoapi discards them), and so are `skipGeometry`/`resulttype` values it
  would read as false/results;
- HTML is our own page rendered from the JSON answer (pygeoapi's templates need its static files
  and its other routes); JSON-LD links are dropped because we do not serve JSON-LD.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from urllib.parse import quote
from typing import Any, Callable

from pygeoapi.api import API, APIRequest
from pygeoapi.api.itemtypes import get_collection_item, get_collection_items, get_collection_queryables
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from processes.engine.vectors import check_queryables
from processes.filters import Filter, parse_filter

from ..catalog import Catalog, FeatureEntry
from ..errors import ApiError, NotFound
from ..features_provider import REQUEST_FILTER, load_layer
from ..negotiate import base_url, choose_format, document, link, self_links

F1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
F3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
CONFORMANCE = [F1 + "core", F1 + "geojson", F1 + "html", F1 + "oas30",
               F3 + "queryables", F3 + "queryables-query-parameters", F3 + "filter", F3 + "features-filter",
               CQL2 + "cql2-text", CQL2 + "cql2-json", CQL2 + "basic-cql2", CQL2 + "advanced-comparison-operators",
               CQL2 + "case-insensitive-comparison", CQL2 + "basic-spatial-functions",
               CQL2 + "basic-spatial-functions-plus", CQL2 + "spatial-functions", CQL2 + "temporal-functions",
               CQL2 + "array-functions", CQL2 + "property-property", CQL2 + "arithmetic"]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GEOJSON = "application/geo+json"
SCHEMA_JSON = "application/schema+json"
REL = "http://www.opengis.net/def/rel/ogc/1.0/"
PROVIDER = "app.features_provider.GeoJSONMemoryProvider"
# GDAL's OAPIF driver (and so QGIS) asks for pages of `maximum` when the API definition gives one
LIMITS = {"default_items": 1000, "max_items": 10000, "on_exceed": "throttle"}
MAX_BASE_URLS = 16  # API objects kept (one per Host a client used), least recently used dropped

ITEMS_PARAMS = {"f", "lang", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "properties",
                "skipGeometry", "sortby", "resulttype", "filter", "filter-lang", "filter-crs"}
FILTER_PARAMS = ("filter", "filter-lang", "filter-crs")
ITEM_PARAMS = {"f", "lang", "crs"}
QUERYABLES_PARAMS = {"f", "lang", "properties", "profile"}


# ---------------------------------------------------------------- the pygeoapi configuration and API objects
def pygeoapi_config(entries: dict[str, FeatureEntry], base: str) -> dict[str, Any]:
    """pygeoapi's configuration for vector collections (the catalog's, or a job's results), links under `base`."""
    resources = {}
    for cid, e in entries.items():
        layer = _layer(e)
        resources[cid] = {
            "type": "collection", "title": e.config.title, "description": e.config.description or e.config.title,
            "keywords": list(e.config.keywords), "links": [],
            # No temporal extent here on purpose: pygeoapi would answer a datetime outside it with a 400
            # instead of an empty result. The provider checks the datetime syntax itself.
            "extents": {"spatial": {"bbox": list(layer.bbox or (-180, -90, 180, 90)), "crs": CRS84}},
            "providers": [{"type": "feature", "name": PROVIDER, "data": str(e.path),
                           "id_field": e.config.id_field, "time_field": e.config.time_field}],
        }
    return {"server": {"url": base, "languages": ["en-US"], "limits": dict(LIMITS), "pretty_print": False,
                       "encoding": "utf-8"},
            "logging": {"level": "ERROR"},
            "metadata": {"identification": {"title": "geodeferred"}},
            "resources": resources}


class _QuietClientErrors(logging.Filter):
    """pygeoapi logs each 4xx it answers at ERROR (with a trace) and warns on every request without
    `offset`. Those answers reach the client as 400/404 documents; a 5xx is logged by our handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.funcName == "get_exception"
                    or (record.funcName == "get_collection_items" and record.levelno <= logging.WARNING))


def _new_api(config: dict[str, Any]) -> API:
    for name in ("pygeoapi.api", "pygeoapi.api.itemtypes"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _QuietClientErrors) for f in logger.filters):
            logger.addFilter(_QuietClientErrors())
    # API() calls logging.basicConfig(); keep the process's logging as the server configured it.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return API(config, openapi={})
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


class _Bridge:
    """pygeoapi API objects for one catalog, one per base URL (a small LRU)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._apis: OrderedDict[str, API] = OrderedDict()
        self._lock = threading.Lock()

    def api(self, base: str, entry: FeatureEntry | None = None) -> API:
        """The catalog's API object, or one for a single collection outside it (a job's results)."""
        key = (base, None if entry is None else (entry.id, str(entry.path)))
        with self._lock:
            api = self._apis.get(key)
            if api is None:
                api = _new_api(pygeoapi_config(self.catalog.features if entry is None else {entry.id: entry}, base))
                self._apis[key] = api
                while len(self._apis) > MAX_BASE_URLS:
                    self._apis.popitem(last=False)
            self._apis.move_to_end(key)
            return api


def _api(request: Request, entry: FeatureEntry) -> API:
    catalog = request.app.state.services.catalog
    bridge = getattr(request.app.state, "features_bridge", None)
    if bridge is None or bridge.catalog is not catalog:
        bridge = request.app.state.features_bridge = _Bridge(catalog)
    return bridge.api(base_url(request), None if entry.id in catalog.features else entry)


# ---------------------------------------------------------------- adapting pygeoapi's answers
def _layer(entry: FeatureEntry):
    return load_layer(entry.path, entry.config.id_field, entry.config.time_field)


def _entry(request: Request) -> FeatureEntry:
    cid = request.path_params["cid"]
    entry = request.app.state.services.feature_entry(cid)
    if entry is None:
        raise NotFound(f"unknown feature collection '{cid}'")
    return entry


def _check_params(request: Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise ApiError(f"unknown query parameter(s): {', '.join(unknown)}; this endpoint takes "
                       f"{', '.join(sorted(allowed))}")
    limit = request.query_params.get("limit")
    if limit is not None and not (limit.isascii() and limit.isdigit() and int(limit) > 0):
        raise ApiError(f"limit must be a positive integer, not '{limit}'")
    for name, values in (("skipGeometry", ("true", "false")), ("resulttype", ("results", "hits"))):
        v = request.query_params.get(name)
        if v is not None and v.lower() not in values:
            raise ApiError(f"{name} must be one of {', '.join(values)}, not '{v}'")


def request_filter(request: Request, layer) -> Filter | None:
    """`filter` (cql2-text, or cql2-json with filter-lang=cql2-json) checked against the queryables."""
    q = request.query_params
    text = q.get("filter")
    if q.get("filter-crs") not in (None, CRS84, "OGC:CRS84"):
        raise ApiError("filter-crs: only CRS84 is supported")
    if text is None:
        if q.get("filter-lang") is not None:
            raise ApiError("filter-lang given without a filter")
        return None
    flt = parse_filter(text, q.get("filter-lang") or "cql2-text")
    try:
        check_queryables(flt, layer)
    except ValueError as e:
        raise ApiError(f"filter: {e}") from None
    return flt


def _with_filter(fn: Callable, flt: Filter | None) -> Callable:
    def call(*args: Any) -> Any:
        token = REQUEST_FILTER.set(flt)
        try:
            return fn(*args)
        finally:
            REQUEST_FILTER.reset(token)
    return call


async def _call(request: Request, entry: FeatureEntry, fn: Callable, *args: Any,
                flt: Filter | None = None) -> tuple[dict[str, str], Any]:
    """Run a pygeoapi API function (as JSON) off the event loop; its 4xx answers become our errors.
    A CQL2 filter reaches our provider directly: pygeoapi never sees the filter parameters."""
    api = _api(request, entry)
    api_request = await APIRequest.from_starlette(request, api.locales)
    api_request._format = "json"  # we render HTML ourselves from the JSON answer (pygeoapi 0.21 attribute)
    if any(name in api_request._args for name in FILTER_PARAMS):
        api_request._args = QueryParams([(k, v) for k, v in api_request._args.multi_items() if k not in FILTER_PARAMS])
    headers, status, content = await run_in_threadpool(_with_filter(fn, flt), api, api_request, *args)
    status = int(status)
    if status >= 500:
        raise RuntimeError(f"pygeoapi answered {status}: {str(content)[:500]}")
    body = json.loads(content) if content else {}
    if status >= 400:
        detail = body.get("description") or "invalid request"
        raise NotFound(detail) if status == 404 else ApiError(detail)
    return headers, body


def _tidy_links(links: list[dict[str, Any]], fmt: str, offset: int = 0, extra: str = "") -> list[dict[str, Any]]:
    """Self/alternate rels for the format served, `offset` kept in them (pygeoapi drops it), no JSON-LD;
    `extra` (the filter parameters pygeoapi did not see) added to every page link."""
    out = []
    for ln in links:
        if ln.get("type") == "application/ld+json":
            continue
        if ln.get("rel") in ("self", "alternate"):
            ln["rel"] = "self" if (ln.get("type") == "text/html") == (fmt == "html") else "alternate"
            if offset:
                ln["href"] += f"&offset={offset}"
        if extra and ln.get("rel") in ("self", "alternate", "next", "prev"):
            ln["href"] += extra
        out.append(ln)
    return out


def _respond(request: Request, doc: dict[str, Any], title: str, headers: dict[str, str],
             media_type: str = GEOJSON) -> Response:
    keep = {k: v for k, v in headers.items() if k.lower() == "content-crs"}
    return document(request, doc, title, media_type=media_type, headers=keep)


# ---------------------------------------------------------------- handlers
async def items(request: Request) -> Response:
    entry = _entry(request)
    layer = _layer(entry)
    _check_params(request, ITEMS_PARAMS | set(layer.fields))
    fmt = choose_format(request, ["json", "html"], "json")
    flt = request_filter(request, layer)
    headers, doc = await _call(request, entry, get_collection_items, entry.id, flt=flt)
    offset = int(request.query_params.get("offset") or 0)  # pygeoapi has checked it
    hits = (request.query_params.get("resulttype") or "").lower() == "hits"
    last = doc.get("numberMatched", 0) <= offset + doc.get("numberReturned", 0)
    extra = "".join(f"&{k}={quote(v, safe='')}" for k in FILTER_PARAMS if (v := request.query_params.get(k)) is not None)
    doc["links"] = [ln for ln in _tidy_links(doc.get("links", []), fmt, offset, extra)
                    if not (ln.get("rel") == "next" and (last or hits)) and not (ln.get("rel") == "prev" and hits)]
    return _respond(request, doc, f"{entry.config.title}: features", headers)


async def item(request: Request) -> Response:
    entry = _entry(request)
    _check_params(request, ITEM_PARAMS)
    fmt = choose_format(request, ["json", "html"], "json")
    fid = request.path_params["fid"]
    headers, doc = await _call(request, entry, get_collection_item, entry.id, fid)
    doc["links"] = _tidy_links(doc.get("links", []), fmt)
    return _respond(request, doc, f"{entry.config.title}: {fid}", headers)


async def queryables(request: Request) -> Response:
    entry = _entry(request)
    _check_params(request, QUERYABLES_PARAMS)
    headers, doc = await _call(request, entry, get_collection_queryables, entry.id)
    return _respond(request, doc, f"{entry.config.title}: queryables", headers, SCHEMA_JSON)


def collection_doc(request: Request, cid: str) -> dict[str, Any]:
    """The OGC API - Common collection description of a vector collection."""
    entry = request.app.state.services.feature_entry(cid)
    layer = _layer(entry)
    url = f"{base_url(request)}/collections/{cid}"
    title = entry.config.title
    extent: dict[str, Any] = {"spatial": {"bbox": [list(layer.bbox or (-180, -90, 180, 90))], "crs": CRS84}}
    if entry.config.time_field and layer.temporal[0]:
        extent["temporal"] = {"interval": [list(layer.temporal)],
                              "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return {
        "id": cid, "title": title, "description": entry.config.description, "keywords": list(entry.config.keywords),
        "itemType": "feature", "extent": extent, "crs": [CRS84], "storageCrs": CRS84,
        "links": self_links(url, title) + [
            # a clean href: GDAL 3.6 appends /{featureId} to it (`ogr2ogr -where "id = 'X'"`)
            link(f"{url}/items", "items", GEOJSON, f"{title}: features (GeoJSON)"),
            link(f"{url}/items?f=html", "items", "text/html", f"{title}: features (HTML)"),
            link(f"{url}/queryables", REL + "queryables", SCHEMA_JSON, f"{title}: queryables"),
        ],
    }


ROUTES = [
    Route("/collections/{cid}/items", items),
    Route("/collections/{cid}/items/{fid}", item),
    Route("/collections/{cid}/queryables", queryables),
]


# ---------------------------------------------------------------- OpenAPI
def _q(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema, **extra}


_F = _q("f", "Output format (overrides Accept).", {"type": "string", "enum": ["json", "html"]})
_GEOJSON_OK = {"description": "GeoJSON", "content": {GEOJSON: {"schema": {"type": "object"}},
                                                     "text/html": {"schema": {"type": "string"}}}}
OPENAPI = {
    "/collections/{cid}/items": {"get": {
        "summary": "Features of a vector collection (GeoJSON FeatureCollection)",
        "description": "Any property of the collection (see its queryables) is also a query parameter "
                       "that selects features whose property equals the value. Other parameters are a 400.",
        "tags": ["Features"],
        "parameters": [
            _F,
            _q("limit", f"Features per page (default {LIMITS['default_items']}, larger values are "
                        f"reduced to {LIMITS['max_items']}).",
               {"type": "integer", "minimum": 1, "maximum": LIMITS["max_items"], "default": LIMITS["default_items"]}),
            _q("offset", "Index of the first feature of the page.", {"type": "integer", "minimum": 0, "default": 0}),
            _q("bbox", "minx,miny,maxx,maxy (or 6 numbers) in CRS84; minx > maxx crosses the antimeridian.",
               {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
               style="form", explode=False),
            _q("bbox-crs", "CRS of bbox (CRS84 only).", {"type": "string", "format": "uri"}),
            _q("datetime", "Instant or interval (a/b, ../b, a/..), RFC 3339; applied to the collection's "
                           "time property.", {"type": "string"}),
            _q("properties", "Comma-separated properties to include.", {"type": "string"}),
            _q("skipGeometry", "Leave geometries out.", {"type": "boolean", "default": False}),
            _q("sortby", "Comma-separated properties, '-' prefix for descending.", {"type": "string"}),
            _q("resulttype", "'hits' returns only numberMatched.", {"type": "string", "enum": ["results", "hits"]}),
            _q("filter", "CQL2 filter on the queryables (and `geometry`, CRS84), e.g. "
                         "`crop_type = 'maize' AND area_ha > 2`.", {"type": "string"}),
            _q("filter-lang", "Language of `filter`.", {"type": "string", "enum": ["cql2-text", "cql2-json"],
                                                         "default": "cql2-text"}),
            _q("filter-crs", "CRS of the filter's geometries (CRS84 only).", {"type": "string", "format": "uri"}),
        ],
        "responses": {"200": _GEOJSON_OK},
    }},
    "/collections/{cid}/items/{fid}": {"get": {
        "summary": "One feature of a vector collection (GeoJSON Feature)", "tags": ["Features"],
        "parameters": [_F], "responses": {"200": _GEOJSON_OK},
    }},
    "/collections/{cid}/queryables": {"get": {
        "summary": "Properties of a vector collection usable as query parameters (JSON Schema)", "tags": ["Features"],
        "parameters": [_F], "responses": {"200": {"description": "JSON Schema",
                                                  "content": {SCHEMA_JSON: {"schema": {"type": "object"}}}}},
    }},
}
