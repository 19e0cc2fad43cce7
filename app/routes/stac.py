"""The STAC API (mounted at /stac, see app/stac) and the asset files its items link to.

`/assets/<collection>/<item>/<file>` serves only files of catalogued items (looked up by key in
the export, never joined to a path from the request), with HTTP Range support for COG readers
(GDAL /vsicurl/, QGIS, rasterio).
"""
from __future__ import annotations

import mimetypes

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route

from ..errors import NotFound
from ..stac.mount import StacMount

CONFORMANCE: list[str] = []  # the STAC API declares its own classes at /stac/conformance
TIFF = "image/tiff; application=geotiff"


async def asset(request: Request) -> Response:
    stac = request.app.state.services.stac
    key = request.path_params["key"]
    path = stac.files.get(key) if stac is not None else None
    if path is None:
        raise NotFound(f"no catalogued asset '{key}'")
    media = TIFF if path.suffix.lower() in (".tif", ".tiff") else mimetypes.guess_type(path.name)[0]
    return FileResponse(path, media_type=media or "application/octet-stream",
                        headers={"Cache-Control": "public, max-age=3600"})


ROUTES = [
    Mount("/stac", app=StacMount()),
    Route("/assets/{key:path}", asset, methods=["GET", "HEAD"]),
]
OPENAPI = {
    "/stac": {"get": {"summary": "STAC API landing page (its own API definition: /stac/api)",
                      "externalDocs": {"description": "STAC API definition", "url": "/stac/api"},
                      "responses": {"200": {"description": "STAC Catalog (landing page)"}}}},
    "/assets/{key}": {"get": {"summary": "A file of a catalogued STAC asset (HTTP Range requests supported)",
                              "responses": {"200": {"description": "The file"}, "206": {"description": "A byte range"}}}},
}
