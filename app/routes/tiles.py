"""OGC API - Tiles: tile matrix sets, map tilesets of every raster collection, map tiles, TileJSON."""
from __future__ import annotations

import hashlib
from typing import Mapping
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import load, render
from ..errors import ApiError, NotFound
from ..maps import parse_map_request, render_map, usable_algorithms, versions
from ..queries import MapQuery, parameters
from ..styles import get_style
from ..negotiate import base_url, choose_format, document, link
from ..tiling import SUPPORTED, get_tms, limits, tile_grid, tms_document, zoom_range
from .collections_meta import raster_bbox, raster_title

TILES = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/"
# Only what is served: tilesets of each collection (geodata-tilesets, at /collections/{id}/map/tiles),
# `datetime` on tiles, PNG and JPEG tiles. No dataset tilesets (so no collections selection), no GeoTIFF tiles.
CONFORMANCE = [TILES + c for c in ("core", "tileset", "tilesets-list", "geodata-tilesets", "dateTime", "png", "jpeg")]
REL_TMS = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"


async def tile_matrix_sets(request: Request) -> Response:
    base = base_url(request)
    sets = [{"id": t, "title": get_tms(t).title, "uri": get_tms(t).uri,
             "links": [link(f"{base}/tileMatrixSets/{t}", "self", "application/json", t)]} for t in SUPPORTED]
    return document(request, {"tileMatrixSets": sets, "links": [link(f"{base}/tileMatrixSets", "self", "application/json")]},
                    "Tile matrix sets")


async def tile_matrix_set(request: Request) -> Response:
    return document(request, tms_document(request.path_params["tms"]), request.path_params["tms"])


def _prefix(request: Request, cid: str) -> str:
    """`{base}/collections/{cid}`, or its style `{base}/collections/{cid}/styles/{sid}` (404 if unknown)."""
    url = f"{base_url(request)}/collections/{cid}"
    sid = request.path_params.get("sid")
    if sid is None:
        return url
    return f"{url}/styles/{get_style(request.app.state.services, cid, sid).id}"


def map_query(request: Request) -> dict[str, str]:
    """The map query: the client's parameters, on top of the style's when the path names one."""
    query = dict(request.query_params)
    sid = request.path_params.get("sid")
    if sid is None:
        return query
    style = get_style(request.app.state.services, request.path_params["cid"], sid)
    if "algorithm" in query and style.query:
        raise ApiError(f"style '{sid}' sets the rendering; use /collections/{request.path_params['cid']}/map/tiles "
                       "to choose an algorithm")
    return {**style.query, **query}


def _tileset(request: Request, cid: str, tms_id: str) -> dict:
    tms = get_tms(tms_id)
    bbox = raster_bbox(request, cid)
    zmin, zmax = zoom_range(tms_id, bbox)
    prefix = _prefix(request, cid)
    tile_url = f"{prefix}/map/tiles/{tms_id}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"
    lims = []
    for z in range(zmin, zmax + 1):
        r0, r1, c0, c1 = limits(tms_id, bbox, z)
        lims.append({"tileMatrix": str(z), "minTileRow": r0, "maxTileRow": r1, "minTileCol": c0, "maxTileCol": c1})
    doc = {
        "title": f"{raster_title(request, cid)} ({tms_id})",
        "dataType": "map",
        "crs": tms.crs.root if hasattr(tms.crs, "root") else str(tms.crs),
        "tileMatrixSetURI": tms.uri,
        "tileMatrixSetLimits": lims,
        "boundingBox": {"lowerLeft": [bbox[0], bbox[1]], "upperRight": [bbox[2], bbox[3]],
                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
        "links": [
            link(f"{prefix}/map/tiles/{tms_id}", "self", "application/json", "This tileset"),
            link(f"{base_url(request)}/tileMatrixSets/{tms_id}", REL_TMS, "application/json", f"{tms_id} definition"),
            link(tile_url, "item", "image/png", "Map tiles (PNG)", templated=True),
            link(tile_url + "?f=webp", "item", "image/webp", "Map tiles (WebP)", templated=True),
            link(f"{prefix}/map/tiles/{tms_id}/tilejson.json", "describedby", "application/json", "TileJSON"),
            link(f"{base_url(request)}/collections/{cid}", "collection", "application/json", "The collection"),
        ],
    }
    if "sid" in request.path_params:
        style = get_style(request.app.state.services, cid, request.path_params["sid"])
        doc["style"] = {"id": style.id, "title": style.title}
    return doc


async def tilesets(request: Request) -> Response:
    cid = request.path_params["cid"]
    base = base_url(request)
    raster_bbox(request, cid)  # 404 for an unknown collection
    prefix = _prefix(request, cid)
    sets = []
    for t in ("WebMercatorQuad", "WorldCRS84Quad"):
        ts = _tileset(request, cid, t)
        sets.append({k: ts[k] for k in ("title", "dataType", "crs", "tileMatrixSetURI")} |
                    {"links": [link(f"{prefix}/map/tiles/{t}", "self", "application/json", t),
                               link(f"{base}/tileMatrixSets/{t}", REL_TMS, "application/json")]})
    links = [link(f"{prefix}/map/tiles", "self", "application/json"),
             link(f"{base}/collections/{cid}", "collection", "application/json", "The collection")]
    return document(request, {"tilesets": sets, "links": links}, f"Map tilesets of {cid}")


async def tileset(request: Request) -> Response:
    cid, tms_id = request.path_params["cid"], request.path_params["tms"]
    return document(request, _tileset(request, cid, tms_id), f"{cid} map tiles ({tms_id})")


def tilejson_doc(request: Request, cid: str, tms_id: str, query: Mapping[str, str]) -> dict:
    """TileJSON of a collection's map tiles with these styling/algorithm parameters (checked here, so a
    bad parameter is a 400 now rather than on every tile)."""
    ts = _tileset(request, cid, tms_id)
    own = [(k, v) for k, v in query.items() if k != "f"]  # `f=json` asked for this document, not for tiles
    styled = "sid" in request.path_params
    parse_map_request(request.app.state.services, cid, map_query(request) if styled else dict(own), "png")
    prefix = _prefix(request, cid)
    q = urlencode(own, safe=",")
    url = f"{prefix}/map/tiles/{tms_id}/{{z}}/{{y}}/{{x}}" + (f"?{q}" if q else "")
    lims = ts["tileMatrixSetLimits"]
    bb = ts["boundingBox"]
    return {"tilejson": "3.0.0", "name": ts["title"], "tiles": [url], "minzoom": int(lims[0]["tileMatrix"]),
            "maxzoom": int(lims[-1]["tileMatrix"]), "scheme": "xyz", "bounds": bb["lowerLeft"] + bb["upperRight"]}


async def tilejson(request: Request) -> Response:
    cid, tms_id = request.path_params["cid"], request.path_params["tms"]
    return JSONResponse(tilejson_doc(request, cid, tms_id, request.query_params))


async def tile(request: Request) -> Response:
    s = request.app.state.services
    p = request.path_params
    cid, tms_id, z, y, x = p["cid"], p["tms"], p["z"], p["y"], p["x"]
    fmt = choose_format(request, ["png", "webp", "jpeg"], "png")
    grid = tile_grid(tms_id, z, x, y)
    req = parse_map_request(s, cid, map_query(request), fmt)
    bbox = raster_bbox(request, cid)
    zmin, zmax = zoom_range(tms_id, bbox)
    if not zmin <= z <= zmax:
        raise NotFound(f"zoom {z} is outside the tileset limits of '{cid}' ({zmin}-{zmax})")
    r0, r1, c0, c1 = limits(tms_id, bbox, z)
    if not (r0 <= y <= r1 and c0 <= x <= c1):
        raise NotFound(f"tile {z}/{y}/{x} is outside the tileset limits of '{cid}'")
    key = f"{req.key}|{versions(s, req.base)}|{tms_id}/{z}/{y}/{x}"
    etag = '"' + hashlib.sha1(key.encode()).hexdigest()[:20] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    data = s.tiles.get(key)
    if data is None:
        with load.computing(s.settings.max_tile_queue):
            data = await load.unless_disconnected(request, s.tile_pool, render_map, s, req, grid)
        if data is None:  # the client went away: nobody reads this
            return Response(status_code=499)
        s.tiles.put(key, data)
    return Response(data, media_type=render.MEDIA_TYPES[fmt], headers=headers)


ROUTES = [
    Route("/tileMatrixSets", tile_matrix_sets),
    Route("/tileMatrixSets/{tms}", tile_matrix_set),
] + [r for prefix in ("/collections/{cid}", "/collections/{cid}/styles/{sid}") for r in (
    Route(prefix + "/map/tiles", tilesets),
    Route(prefix + "/map/tiles/{tms}", tileset),
    Route(prefix + "/map/tiles/{tms}/tilejson.json", tilejson),
    Route(prefix + "/map/tiles/{tms}/{z:int}/{y:int}/{x:int}", tile),
)]


# ---------------------------------------------------------------- OpenAPI (from the query model and the algorithms' parameter models)
def _algorithm_parameters() -> list[dict]:
    """Each algorithm parameter once (e.g. `z_factor` of hillshade and slope), naming its algorithms."""
    from processes.ops import REGISTRY

    by_name: dict[str, dict] = {}
    for alg in usable_algorithms():
        for p in parameters(REGISTRY[alg].params):
            entry = by_name.setdefault(p["name"], p | {"x-algorithms": []})
            entry["x-algorithms"].append(alg)
    for p in by_name.values():
        p["description"] = f"With algorithm={'|'.join(p['x-algorithms'])}: {p['description']}".rstrip(": ")
    return list(by_name.values())


def _tile_operation(styled: bool) -> dict:
    params = parameters(MapQuery, {"algorithm": {"type": "string", "enum": usable_algorithms()}})
    return {"summary": "A map tile of a collection" + (" in a named style" if styled else ""),
            "tags": ["Tiles"], "parameters": params + _algorithm_parameters(),
            "responses": {"200": {"description": "The tile image", "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in ("image/png", "image/webp", "image/jpeg")}}}}


OPENAPI = {
    "/collections/{cid}/map/tiles/{tms}/{z}/{y}/{x}": {"get": _tile_operation(False)},
    "/collections/{cid}/styles/{sid}/map/tiles/{tms}/{z}/{y}/{x}": {"get": _tile_operation(True)},
}
