"""The embedded STAC backend: stac-fastapi-geoparquet over a stac-geoparquet file (rustac + DuckDB).

No server: the service writes `<work_dir>/items-<digest>.parquet` (rustac) at start, once per
content (the name is the export's digest; the write is atomic under a file lock, so gunicorn
workers share it), and DuckDB reads it in process with the extensions bundled by
`rustac-duckdb-extensions` (nothing is downloaded).
"""
from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import rustac
import rustac_duckdb_extensions
from fastapi import FastAPI, Request
from filelock import FileLock
from stac_fastapi.api.app import StacApi
from stac_fastapi.geoparquet.client import Client
from stac_fastapi.api.models import ItemCollectionUri, create_get_request_model, create_post_request_model
from stac_fastapi.extensions.core import OffsetPaginationExtension, SearchFilterExtension, SortExtension
from stac_fastapi.geoparquet.search import FixedSearchGetRequest
from stac_fastapi.types.search import BaseSearchPostRequest
from stac_fastapi.geoparquet.settings import Settings as GpSettings

from .export import Export
from .queryables import ExportFiltersClient

def _column(field: str) -> str:
    sign = field[0] if field[:1] in "+-" else ""
    return sign + field.removeprefix(sign).removeprefix("properties.")


class ColumnsClient(Client):
    """DuckDB columns are the flattened item properties: `properties.datetime` sorts as `datetime`."""

    def search(self, *, search: Any, **kwargs: Any) -> Any:
        for sort in getattr(search, "sortby", None) or []:
            if isinstance(getattr(sort, "field", None), str):
                sort.field = _column(sort.field)
        if isinstance(kwargs.get("sortby"), list):  # GET: a list of "[+-]field" strings
            kwargs["sortby"] = [_column(s) if isinstance(s, str) else s for s in kwargs["sortby"]]
        return super().search(search=search, **kwargs)


def write_parquet(export: Export, work_dir: Path) -> Path:
    """Write (once per content) the stac-geoparquet file of every exported item."""
    work_dir.mkdir(parents=True, exist_ok=True)
    parquet = work_dir / f"items-{export.digest}.parquet"
    with FileLock(str(work_dir / ".write.lock")):
        if not parquet.exists():
            tmp = parquet.with_name(f".{parquet.name}.tmp.{os.getpid()}")
            asyncio.run(_write(str(tmp), export.items))
            os.replace(tmp, parquet)
    return parquet


async def _write(path: str, items: list[dict[str, Any]]) -> None:
    await rustac.write(path, items, format="geoparquet")


def build_app(export: Export, work_dir: Path, title: str, description: str) -> FastAPI:
    """The stac-fastapi-geoparquet application over the exported items.

    Built like `stac_fastapi.geoparquet.api.create()`, except that the collections come from the
    export (not re-read from a file every minute), the DuckDB client loads bundled extensions, and
    the client maps `properties.*` fields to DuckDB columns, and the filter extension knows the queryables.
    """
    parquet = str(write_parquet(export, work_dir))
    collections = {c["id"]: c for c in export.collections}
    hrefs = {cid: parquet for cid in collections}
    duckdb = rustac.DuckdbClient(extension_directory=rustac_duckdb_extensions.extension_directory(),
                                 install_extensions=False)
    settings = GpSettings(stac_fastapi_landing_id="geodeferred-stac", stac_fastapi_title=title,
                          stac_fastapi_description=description)
    app = FastAPI(openapi_url=settings.openapi_url, docs_url=settings.docs_url, redoc_url=None)

    @app.middleware("http")
    async def state(request: Request, call_next):  # what the backend's client reads per request
        request.state.client, request.state.collections, request.state.hrefs = duckdb, collections, hrefs
        return await call_next(request)

    # The backend's extensions, with the export's queryables, but no fields extension: rustac 0.9's
    # projections fail stac-api-validator (500s on include+exclude, wrong defaults).
    extensions = [OffsetPaginationExtension(), SearchFilterExtension(client=ExportFiltersClient(export)), SortExtension()]
    StacApi(settings=settings, client=ColumnsClient(), app=app, extensions=extensions,
            search_get_request_model=create_get_request_model(extensions, base_model=FixedSearchGetRequest),
            search_post_request_model=create_post_request_model(extensions, base_model=BaseSearchPostRequest),
            items_get_request_model=create_get_request_model(extensions, base_model=ItemCollectionUri),
            middlewares=[])  # CORS and compression: the outer app
    return app
