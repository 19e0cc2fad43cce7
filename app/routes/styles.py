"""Styles of the raster collections: the list, each style, and (in app.routes.tiles) its map tiles."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..negotiate import base_url, document, link, self_links
from ..styles import Style, get_style, styles_of
from .collections_meta import raster_bbox

CONFORMANCE: list[str] = []  # no stylesheet encoding (SLD, Mapbox GL) is served: nothing of OGC API - Styles is claimed
REL = "http://www.opengis.net/def/rel/ogc/1.0/"


def _style_doc(url: str, style: Style) -> dict:
    surl = f"{url}/styles/{style.id}"
    return {"id": style.id, "title": style.title, "description": style.description,
            "parameters": dict(style.query),
            "links": [link(surl, "describedby", "application/json", f"{style.title}: description"),
                      link(f"{surl}/map/tiles", REL + "tilesets-map", "application/json", f"{style.title}: map tilesets"),
                      link(f"{surl}/map/tiles/WebMercatorQuad", REL + "tileset-map", "application/json",
                           f"{style.title}: map tiles (WebMercatorQuad)"),
                      link(f"{surl}/map/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}", "item", "image/png",
                           f"{style.title}: map tiles (PNG)", templated=True)]}


async def styles(request: Request) -> Response:
    cid = request.path_params["cid"]
    raster_bbox(request, cid)  # 404 for an unknown or non-raster collection
    url = f"{base_url(request)}/collections/{cid}"
    found = styles_of(request.app.state.services, cid)
    doc = {"default": found[0].id, "styles": [_style_doc(url, s) for s in found],
           "links": self_links(f"{url}/styles", "Styles") + [link(url, "collection", "application/json", "The collection")]}
    return document(request, doc, f"Styles of {cid}")


async def style(request: Request) -> Response:
    cid = request.path_params["cid"]
    raster_bbox(request, cid)
    found = get_style(request.app.state.services, cid, request.path_params["sid"])
    url = f"{base_url(request)}/collections/{cid}"
    doc = _style_doc(url, found)
    doc["links"] = self_links(f"{url}/styles/{found.id}", found.title) + doc["links"][1:] + [
        link(f"{url}/styles", "up", "application/json", "All styles")]
    doc["extent"] = {"spatial": {"bbox": [list(raster_bbox(request, cid))]}}
    return document(request, doc, f"{cid}: {found.title}")


ROUTES = [
    Route("/collections/{cid}/styles", styles),
    Route("/collections/{cid}/styles/{sid}", style),
]
