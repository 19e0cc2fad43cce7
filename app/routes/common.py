"""OGC API - Common: landing page, conformance, API definition and the collections list."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .. import openapi
from ..errors import NotFound
from ..html import render_api_docs
from ..legend import legend
from ..negotiate import base_url, choose_format, document, link, self_links
from . import collections_meta, coverages, features

COMMON = "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/"
CONFORMANCE = [COMMON + "core", COMMON + "landing-page", COMMON + "json", COMMON + "html", COMMON + "oas30",
               "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections"]
OAS = "application/vnd.oai.openapi+json;version=3.0"
REL = "http://www.opengis.net/def/rel/ogc/1.0/"


async def landing(request: Request) -> Response:
    base = base_url(request)
    doc = {
        "title": "geodeferred",
        "description": "Deferred raster analysis: map tiles, coverages and processes computed on demand, "
                       "and the vector layers they are about.",
        "links": self_links(base + "/", "Landing page") + [
            link(f"{base}/api", "service-desc", OAS, "API definition (OpenAPI 3.0)"),
            link(f"{base}/api?f=html", "service-doc", "text/html", "API documentation"),
            link(f"{base}/conformance", "conformance", "application/json", "Conformance classes"),
            link(f"{base}/conformance", REL + "conformance", "application/json", "Conformance classes"),
            link(f"{base}/collections", "data", "application/json", "Collections"),
            link(f"{base}/collections", REL + "data", "application/json", "Collections"),
            link(f"{base}/processes", REL + "processes", "application/json", "Processes"),
            link(f"{base}/jobs", REL + "job-list", "application/json", "Jobs"),
            link(f"{base}/tileMatrixSets", REL + "tiling-schemes", "application/json", "Tile matrix sets"),
            link(f"{base}/stac/", "child", "application/json", "STAC API: search the scenes (pystac-client, QGIS)"),
            link(f"{base}/results", "related", "application/json", "Recent workflow results"),
        ],
    }
    return document(request, doc, "geodeferred")


async def conformance(request: Request) -> Response:
    return document(request, {"conformsTo": request.app.state.conformance}, "Conformance")


async def api(request: Request) -> Response:
    if choose_format(request, ["json", "html"], "json") == "html":  # Swagger UI, served from /static
        return HTMLResponse(render_api_docs(f"{base_url(request)}/api?f=json"))
    return JSONResponse(openapi.build(request.app, base_url(request)), media_type=OAS)


def raster_collection(request: Request, cid: str) -> dict:
    s = request.app.state.services
    base = base_url(request)
    url = f"{base}/collections/{cid}"
    entry = s.catalog.rasters.get(cid)
    bbox = collections_meta.raster_bbox(request, cid)
    # layerDataType (Ecere's spelling, the one GDAL's OAPIF driver and so QGIS read) keeps a raster
    # collection out of the vector layers those clients list: it has no /items to read
    doc = {"id": cid, "title": collections_meta.raster_title(request, cid), "itemType": "coverage",
           "dataType": "coverage", "layerDataType": "Coverage",
           "extent": {"spatial": {"bbox": [list(bbox)], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
           "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84", "http://www.opengis.net/def/crs/EPSG/0/3857"]}
    if entry is not None:
        doc["description"] = entry.config.description
        doc["keywords"] = entry.config.keywords
        doc["bands"] = list(entry.collection.band_names)
        if entry.temporal[0]:
            doc["extent"]["temporal"] = {"interval": [list(entry.temporal)]}
    else:
        graph = s.virtual_doc(cid) or {}
        doc["description"] = graph.get("description") or \
            "Deferred workflow result: computed only where and when a tile or coverage is requested."
        doc["workflow"] = graph.get("graph")
        classes = legend(s.resolve(cid)) if graph else None
        if classes is not None:
            doc["legend"] = classes  # the class map's categorical colours
    links = self_links(url, doc["title"]) + [
        link(f"{url}/map/tiles", REL + "tilesets-map", "application/json", "Map tilesets"),
        link(f"{url}/map/tiles/WebMercatorQuad", REL + "tileset-map", "application/json", "Map tiles (WebMercatorQuad)"),
        link(f"{url}/map/tiles/WebMercatorQuad/tilejson.json", "describedby", "application/json", "TileJSON"),
        link(f"{url}/styles", REL + "styles", "application/json", "Styles (hillshade, true colour, NDVI...)"),
    ]
    links += coverages.collection_links(url)
    if entry is None:
        links.append(link(f"{url}/workflow", REL + "workflow", "application/json", "Workflow that defines this collection"))
    doc["links"] = links
    return doc


async def collections(request: Request) -> Response:
    s = request.app.state.services
    base = base_url(request)
    cols = [raster_collection(request, c) for c in [*s.catalog.rasters, *s.deployed.ids()]]
    cols += [features.collection_doc(request, c) for c in s.catalog.features]
    doc = {"collections": cols, "links": self_links(f"{base}/collections", "Collections")}
    return document(request, doc, "Collections")


async def collection(request: Request) -> Response:
    cid = request.path_params["cid"]
    s = request.app.state.services
    if s.feature_entry(cid) is not None:  # the catalog's, or an analysis job's results
        doc = features.collection_doc(request, cid)
    elif cid in s.catalog.rasters or s.virtual_doc(cid) is not None:
        doc = raster_collection(request, cid)
    else:
        raise NotFound(f"unknown collection '{cid}'")
    return document(request, doc, doc["title"])


async def workflow(request: Request) -> Response:
    doc = request.app.state.services.virtual_doc(request.path_params["cid"])
    if doc is None:
        raise NotFound(f"'{request.path_params['cid']}' is not a workflow result collection")
    return JSONResponse(doc["graph"])


ROUTES = [
    Route("/", landing),
    Route("/conformance", conformance),
    Route("/api", api),
    Route("/collections", collections),
    Route("/collections/{cid}", collection),
    Route("/collections/{cid}/workflow", workflow),
]
