"""The running STAC API: the catalog exported once per worker, served by the configured backend.

`GEODEFERRED_STAC_BACKEND=embedded` (default): stac-fastapi-geoparquet, no server.
`GEODEFERRED_STAC_BACKEND=postgresql://user:password@host:port/db`: stac-fastapi-pgstac on a
PostgreSQL + PostGIS database that the service migrates (pypgstac) and loads at start.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

from ..catalog import Catalog
from ..settings import Settings
from . import queryables
from .export import Export, export_catalog

log = logging.getLogger("geodeferred")
TITLE = "geodeferred STAC API"
DESCRIPTION = "Search the scenes of the catalogued STAC collections by place, date and properties (CQL2)."


@dataclass
class StacService:
    app: Any  # the backend's ASGI (FastAPI) application
    files: dict[str, Path]  # asset key -> local file the service may serve
    queryables: set[str] = field(default_factory=set)
    backend: str = "embedded"


def build_backend(settings: Settings, export: Export, work_dir: Path) -> tuple[Any, str]:
    backend = settings.stac_backend
    if backend == "embedded":
        from .geoparquet import build_app

        return build_app(export, work_dir / "geoparquet", TITLE, DESCRIPTION), "embedded (stac-geoparquet, DuckDB)"
    from .pgstac import build_app

    return build_app(export, backend, work_dir, TITLE, DESCRIPTION), "pgstac"


@contextlib.asynccontextmanager
async def open_stac(settings: Settings, catalog: Catalog) -> AsyncIterator[StacService | None]:
    """Export the catalog, build the backend application and run its lifespan."""
    started = time.monotonic()
    work_dir = settings.stac_work_dir
    export = await asyncio.to_thread(export_catalog, catalog, work_dir)  # thumbnails, files: off the loop
    if not export.items:
        log.info("STAC API: no catalogued STAC collection, /stac is not served")
        yield None
        return
    app, name = await asyncio.to_thread(build_backend, settings, export, work_dir)
    async with app.router.lifespan_context(app):
        log.info("STAC API (%s): %d collection(s), %d item(s) ready in %.1fs", name, len(export.collections),
                 len(export.items), time.monotonic() - started)
        yield StacService(app, export.files, queryables.names(export), name)
