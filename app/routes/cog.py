"""titiler-shaped endpoints (`/cog/info`, `/cog/statistics`, `/cog/{tms}/tilejson.json`) for the
service's OWN collections, so leafmap's `add_cog_layer`, `cog_info` and `cog_stats` work with
`TITILER_ENDPOINT=<service>`. `url=` must be a collection id or this service's collection URL: it is
mapped to a collection and never fetched (anything else is a 400)."""
from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from processes.engine.evaluate import bands_of
from processes.engine.region import Region
from processes.execute import produce_bytes

from .. import load
from ..errors import ApiError
from ..maps import base_node
from ..negotiate import base_url
from ..tiling import zoom_range
from .collections_meta import raster_bbox
from .tiles import tilejson_doc

CONFORMANCE: list[str] = []
SELECTION = ("datetime", "filter", "filter-lang", "item", "mosaic")  # passed on to the collection's tiles
TILE_KEYS = {"url", "bidx", "rescale", "colormap_name", "colormap", "algorithm", "blend", *SELECTION}
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def collection_id(request: Request) -> str:
    """The collection `url=` names: 'dem' or '<this service>/collections/dem' (never fetched)."""
    url = request.query_params.get("url")
    if not url:
        raise ApiError("url is required: a collection id or this service's /collections/{id} URL")
    base = base_url(request)
    if url.startswith(base + "/collections/"):
        cid = url[len(base) + len("/collections/"):].rstrip("/")
    elif "/" not in url and ":" not in url:
        cid = url
    else:
        host = urlsplit(url).netloc or url
        raise ApiError(f"url must be a collection of this service ({base}/collections/{{id}}) or its id; "
                       f"'{host}' is not fetched")
    if not cid or "/" in cid or "?" in cid:
        raise ApiError(f"url must be {base}/collections/{{id}} (no sub-path), got '{url}'")
    raster_bbox(request, cid)  # 404 for an unknown collection
    return cid


def _band_names(request: Request, cid: str) -> tuple[str, ...]:
    s = request.app.state.services
    return tuple(bands_of(base_node(s, cid, {}, display=False), s.lookup))


def _selected(request: Request, names: tuple[str, ...]) -> tuple[str, ...] | None:
    """titiler's `bidx` (1-based, repeated or comma-separated) -> band names; None for all."""
    raw = [v for item in request.query_params.getlist("bidx") for v in item.split(",") if v.strip()]
    if not raw:
        return None
    try:
        idx = [int(v) for v in raw]
    except ValueError:
        raise ApiError(f"bidx must be band numbers (1..{len(names)}), got {raw}") from None
    if not all(1 <= i <= len(names) for i in idx):
        raise ApiError(f"bidx must be between 1 and {len(names)} (bands: {', '.join(names)})")
    return tuple(names[i - 1] for i in idx)


def _info(request: Request, cid: str) -> dict:
    bbox = raster_bbox(request, cid)
    names = _band_names(request, cid)
    zmin, zmax = zoom_range("WebMercatorQuad", bbox)
    return {"bounds": list(bbox), "crs": CRS84, "minzoom": zmin, "maxzoom": zmax, "count": len(names),
            "band_descriptions": [[b, b] for b in names], "band_metadata": [[b, {}] for b in names],
            "dtype": "float32", "nodata_type": "Nodata", "colorinterp": ["gray"] * len(names)}


async def info(request: Request) -> Response:
    return JSONResponse(_info(request, collection_id(request)))


async def info_geojson(request: Request) -> Response:
    cid = collection_id(request)
    doc = _info(request, cid)
    w, s_, e, n = doc["bounds"]
    ring = [[w, s_], [e, s_], [e, n], [w, n], [w, s_]]
    return JSONResponse({"type": "Feature", "bbox": doc["bounds"], "geometry": {"type": "Polygon", "coordinates": [ring]},
                         "properties": doc}, media_type="application/geo+json")


async def statistics(request: Request) -> Response:
    """Per-band statistics (titiler's keys: min, max, mean, std, median, percentile_2/98...) of the whole
    collection computed at `max_size` pixels on its longer side (default 512)."""
    s = request.app.state.services
    cid = collection_id(request)
    names = _band_names(request, cid)
    try:
        size = int(request.query_params.get("max_size", 512))
    except ValueError:
        raise ApiError("max_size must be an integer") from None
    if not 16 <= size <= 2048:
        raise ApiError("max_size must be between 16 and 2048")
    node = base_node(s, cid, {k: v for k, v in request.query_params.items() if k in SELECTION}, display=False)
    w, s_, e, n = raster_bbox(request, cid)
    width, height = (size, max(1, round(size * (n - s_) / (e - w)))) if e - w >= n - s_ else \
        (max(1, round(size * (e - w) / (n - s_))), size)
    region = Region("OGC:CRS84", (w, s_, e, n), width, height)
    with load.computing(s.settings.max_sync_executions, "executions", retry_after=5):
        out = await load.unless_disconnected(request, None, produce_bytes, node, region, ("statistics",), s.lookup,
                                             s.executor, max_pixels=s.settings.max_sync_pixels,
                                             chunk=s.settings.region_chunk)
    if out is None:  # the client went away
        return Response(status_code=499)
    stats = json.loads(out["statistics"])
    wanted = _selected(request, names) or names
    return JSONResponse({b: stats[b] for b in wanted if b in stats})


async def tilejson(request: Request) -> Response:
    """leafmap's tile call: bidx -> bands, rescale (one per band) -> one min,max, colormap_name -> colormap."""
    q = request.query_params
    unknown = sorted(set(q) - TILE_KEYS)
    if unknown:
        raise ApiError(f"unsupported parameter(s) {unknown}; this endpoint takes {sorted(TILE_KEYS)}")
    cid = collection_id(request)
    query: dict[str, str] = {k: q[k] for k in ("algorithm", "blend", *SELECTION) if k in q}
    names = _band_names(request, cid)
    bands = _selected(request, names)
    if bands and cid in request.app.state.services.catalog.rasters:
        query["bands"] = ",".join(bands)
    elif bands and bands != names:
        raise ApiError(f"bidx selects bands of source collections; '{cid}' is a workflow result: all its bands are shown")
    ranges = [v for v in q.getlist("rescale") if v]
    if ranges:
        try:
            pairs = [tuple(float(x) for x in r.split(",")) for r in ranges]
        except ValueError:
            raise ApiError(f"rescale must be min,max per band, got {ranges}") from None
        if not all(len(p) == 2 for p in pairs):
            raise ApiError(f"rescale must be min,max per band, got {ranges}")
        query["rescale"] = f"{min(p[0] for p in pairs)},{max(p[1] for p in pairs)}"
    cmap = q.get("colormap_name") or q.get("colormap")
    if cmap:
        if cmap.lstrip().startswith("{"):
            raise ApiError("colormap as a JSON value map is not supported: give a colormap name (colormap_name=)")
        query["colormap"] = cmap
    return JSONResponse(tilejson_doc(request, cid, request.path_params["tms"], query))


ROUTES = [
    Route("/cog/info", info),
    Route("/cog/info.geojson", info_geojson),
    Route("/cog/statistics", statistics),
    Route("/cog/{tms}/tilejson.json", tilejson),
]

_URL = {"name": "url", "in": "query", "required": True, "schema": {"type": "string"},
        "description": "A collection id, or this service's /collections/{id} URL (never fetched; anything else is a 400)"}
OPENAPI = {
    "/cog/info": {"get": {"summary": "titiler-style info of a collection (for leafmap)", "tags": ["leafmap"], "parameters": [_URL]}},
    "/cog/info.geojson": {"get": {"summary": "titiler-style info as a GeoJSON feature", "tags": ["leafmap"], "parameters": [_URL]}},
    "/cog/statistics": {"get": {"summary": "Per-band statistics of a collection (titiler keys)", "tags": ["leafmap"],
                                "parameters": [_URL]}},
    "/cog/{tms}/tilejson.json": {"get": {"summary": "TileJSON of a collection's map tiles (bidx, rescale, colormap_name)",
                                         "tags": ["leafmap"], "parameters": [_URL]}},
}
