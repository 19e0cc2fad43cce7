"""The PostgreSQL STAC backend: stac-fastapi-pgstac over a pgstac schema (PostgreSQL + PostGIS).

At start the service migrates the database to the pgstac version of the installed pypgstac, then
upserts the exported collections and items and deletes the items of those collections that are no
longer catalogued (under a file lock, so gunicorn workers do it one at a time). The API is built
like stac_fastapi.pgstac.app, with the extensions that pass stac-api-validator (sort, filter,
paging) on /search and on /collections/{id}/items.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, AsyncIterator
from urllib.parse import unquote, urlparse

from fastapi import FastAPI
from filelock import FileLock
from pypgstac.db import PgstacDB
from pypgstac.load import Loader, Methods
from pypgstac.migrate import Migrate
from stac_fastapi.api.app import StacApi
from stac_fastapi.api.models import ItemCollectionUri, create_get_request_model, create_post_request_model, create_request_model
from stac_fastapi.extensions.core import ItemCollectionFilterExtension, SearchFilterExtension, SortExtension, TokenPaginationExtension
from stac_fastapi.extensions.core.sort import SortConformanceClasses
from stac_fastapi.pgstac.config import PostgresSettings, Settings
from stac_fastapi.pgstac.core import CoreCrudClient
from stac_fastapi.pgstac.db import close_db_connection, connect_to_db
from stac_fastapi.pgstac.extensions.filter import FiltersClient
from stac_fastapi.pgstac.types.search import PgstacSearch

from .export import Export


def postgres_settings(dsn: str) -> PostgresSettings:
    url = urlparse(dsn)
    return PostgresSettings(pguser=unquote(url.username or "postgres"), pgpassword=unquote(url.password or ""),
                            pghost=url.hostname or "127.0.0.1", pgport=url.port or 5432,
                            pgdatabase=url.path.lstrip("/") or "postgres")


def load(export: Export, dsn: str) -> str:
    """Migrate the database and make its catalogued collections hold exactly the exported items."""
    with PgstacDB(dsn=dsn) as db:
        version = Migrate(db).run_migration()
        loader = Loader(db)
        loader.load_collections(iter(export.collections), Methods.upsert)
        loader.load_items(iter(export.items), Methods.upsert)
        for collection in export.collections:
            keep = [i["id"] for i in export.items if i["collection"] == collection["id"]]
            db.query_one("SELECT count(delete_item(id, collection)) FROM items WHERE collection = %s AND NOT (id = ANY(%s))",
                         (collection["id"], keep))
    return version


def build_app(export: Export, dsn: str, work_dir: Path, title: str, description: str) -> FastAPI:
    work_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(work_dir / ".pgstac-load.lock")):
        load(export, dsn)
    settings = Settings(stac_fastapi_title=title, stac_fastapi_description=description,
                        stac_fastapi_landing_id="geodeferred-stac", enabled_extensions=["sort", "filter", "pagination"])
    # No fields extension: stac-fastapi-pgstac 6.2 fails stac-api-validator's fields checks
    # (nested includes dropped, include+exclude of one field, JSON instead of GeoJSON).
    search_extensions = [SortExtension(), SearchFilterExtension(client=FiltersClient()), TokenPaginationExtension()]
    items_extensions = [SortExtension(conformance_classes=[SortConformanceClasses.ITEMS]),
                        ItemCollectionFilterExtension(client=FiltersClient()), TokenPaginationExtension()]
    post_model = create_post_request_model(search_extensions, base_model=PgstacSearch)
    items_model = create_request_model(model_name="ItemCollectionUri", base_model=ItemCollectionUri,
                                       extensions=items_extensions, request_type="GET")
    db = postgres_settings(dsn)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await connect_to_db(app, postgres_settings=db)
        try:
            yield
        finally:
            await close_db_connection(app)

    app = FastAPI(openapi_url=settings.openapi_url, docs_url=settings.docs_url, redoc_url=None, title=title,
                  description=description, lifespan=lifespan)
    api: Any = StacApi(app=app, settings=settings, extensions=search_extensions + items_extensions,
                       client=CoreCrudClient(pgstac_search_model=post_model), search_get_request_model=create_get_request_model(search_extensions),
                       search_post_request_model=post_model, items_get_request_model=items_model,
                       middlewares=[])  # CORS and compression: the outer app
    return api.app
