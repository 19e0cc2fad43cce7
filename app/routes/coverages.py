"""OGC API - Coverages (core, subsetting, scaling, field selection; GeoTIFF) for every raster
collection, deferred workflow results included: only the requested window is computed."""
from __future__ import annotations

from pyproj import CRS
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from processes.engine.evaluate import bands_of
from processes.engine.graph import collections_of
from processes.execute import produce_bytes
from processes.outputs import GEOTIFF

from .. import load
from ..coverage_query import parse_region
from ..maps import base_node
from ..negotiate import choose_format, document, link
from .collections_meta import raster_bbox

COV = "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/"
CONFORMANCE = [COV + c for c in ("core", "subsetting", "scaling", "fieldselection", "geotiff")]
REL = "http://www.opengis.net/def/rel/ogc/1.0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def collection_links(url: str) -> list[dict]:
    return [link(f"{url}/coverage", REL + "coverage", GEOTIFF, "Coverage (GeoTIFF)"),
            link(f"{url}/coverage/domainset?f=json", REL + "coverage-domainset", "application/json", "Domain set"),
            link(f"{url}/coverage/rangetype?f=json", REL + "coverage-rangetype", "application/json", "Range type")]


def native_resolution(request: Request, cid: str) -> float:
    """Finest source resolution in degrees (the default scale of a coverage)."""
    s = request.app.state.services
    ids = [cid] if cid in s.catalog.rasters else sorted(collections_of(s.resolve(cid)))
    res = []
    for c in ids:
        entry = s.catalog.rasters[c]
        res.append(entry.resolution if CRS.from_user_input(entry.crs).is_geographic else entry.resolution / 111320.0)
    return min(res)


async def coverage(request: Request) -> Response:
    s = request.app.state.services
    cid = request.path_params["cid"]
    q = request.query_params
    choose_format(request, ["geotiff"], "geotiff")
    selection = {k: v for k, v in q.items() if k in ("datetime", "filter", "filter-lang", "item", "mosaic")}
    node = base_node(s, cid, selection | ({"bands": q["properties"]} if "properties" in q else {}), display=False)
    region = parse_region(q, q.getlist, raster_bbox(request, cid), native_resolution(request, cid))
    with load.computing(s.settings.max_sync_executions, "executions", retry_after=5):
        produced = await load.unless_disconnected(request, None, produce_bytes, node, region, ("result",), s.lookup,
                                                  s.executor, max_pixels=s.settings.max_sync_pixels,
                                                  chunk=s.settings.region_chunk)
    if produced is None:  # the client went away
        return Response(status_code=499)
    return Response(produced["result"], media_type=GEOTIFF, headers={"Content-Crs": f"<{CRS84}>"})


async def domainset(request: Request) -> Response:
    cid = request.path_params["cid"]
    w, s_, e, n = raster_bbox(request, cid)
    res = native_resolution(request, cid)
    nx, ny = max(1, round((e - w) / res)), max(1, round((n - s_) / res))
    doc = {"type": "DomainSet", "generalGrid": {
        "type": "GeneralGridCoverage", "srsName": CRS84, "axisLabels": ["Lon", "Lat"],
        "axis": [{"type": "RegularAxis", "axisLabel": "Lon", "lowerBound": w, "upperBound": e,
                  "uomLabel": "deg", "resolution": (e - w) / nx},
                 {"type": "RegularAxis", "axisLabel": "Lat", "lowerBound": s_, "upperBound": n,
                  "uomLabel": "deg", "resolution": (n - s_) / ny}],
        "gridLimits": {"type": "GridLimits", "srsName": "http://www.opengis.net/def/crs/OGC/0/Index2D",
                       "axisLabels": ["i", "j"],
                       "axis": [{"type": "IndexAxis", "axisLabel": "i", "lowerBound": 0, "upperBound": nx - 1},
                                {"type": "IndexAxis", "axisLabel": "j", "lowerBound": 0, "upperBound": ny - 1}]}}}
    return document(request, doc, f"Domain set of {cid}")


async def rangetype(request: Request) -> Response:
    s = request.app.state.services
    cid = request.path_params["cid"]
    raster_bbox(request, cid)  # 404 for unknown ids
    node = base_node(s, cid, {}, display=False)
    fields = [{"type": "Quantity", "id": b, "name": b, "definition": "ogcType:float32",
               "encodingInfo": {"dataType": "http://www.opengis.net/def/dataType/OGC/0/float32"}}
              for b in bands_of(node, s.lookup)]
    return document(request, {"type": "DataRecord", "field": fields}, f"Range type of {cid}")


ROUTES = [
    Route("/collections/{cid}/coverage", coverage),
    Route("/collections/{cid}/coverage/domainset", domainset),
    Route("/collections/{cid}/coverage/rangetype", rangetype),
]
