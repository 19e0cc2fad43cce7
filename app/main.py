"""create_app(settings): the one ASGI application (Starlette) with every OGC API mounted."""
from __future__ import annotations

import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import AsyncIterator, Callable

import yaml

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from demodata import build_demo_data, expected_paths
from processes.deployed import open_deployed_store
from processes.engine.allocator import tune_allocator
from processes.engine.executor import make_executor
from processes.graphs import open_graph_store
from processes.jobs import JobRunner, open_job_store
from processes.models import AnyModelStore, install, open_model_store as open_models

from . import errors, housekeeping
from .catalog import load_catalog
from .model_catalog import load_configured
from .routes import analyses, cog, common, coverages, deploy, features, health, jobs, models, processes, stac, styles, tiles, web
from .services import Services
from .settings import Settings
from .stac.service import open_stac
from .tile_cache import make_tile_cache

ROUTE_MODULES = (common, health, tiles, styles, coverages, processes, deploy, jobs, features, stac, analyses, models, cog, web)
log = logging.getLogger("geodeferred")


def build_services(settings: Settings) -> Services:
    """The service's state. With a PostgreSQL job backend, jobs, stored workflow results, deployed
    processes and models all live in that database (jobs_dir holds only this machine's staging
    folders and read-through copies); else in files under jobs_dir, shared by the web workers."""
    settings.jobs_dir.mkdir(parents=True, exist_ok=True)
    if settings.build_demo_data:
        demo = build_demo_data(settings.data_dir, size=settings.demo_size, dem_width=settings.dem_width)
    else:  # built by someone else (data_dir may be read-only)
        demo = expected_paths(settings.data_dir, settings.demo_size, settings.dem_width)
    catalog = load_catalog(settings, demo)
    model_store, restore_models = open_model_store(settings)
    executor = make_executor(settings.executor)
    backend = settings.jobs_backend
    store = open_job_store(backend, settings.jobs_dir / "jobs")
    runner = JobRunner(store, executor, "processes.execute:run_job_work", coordinators=settings.job_coordinators)
    graphs = open_graph_store(backend, settings.jobs_dir / "graphs", settings.retention_hours * 3600)
    return Services(settings, catalog, graphs, store, runner, executor,
                    make_tile_cache(settings.tile_cache, settings.tile_cache_entries),
                    ThreadPoolExecutor(settings.tile_threads, thread_name_prefix="tiles"),
                    open_deployed_store(backend, settings.jobs_dir / "deployed"), models=model_store,
                    restore_models=restore_models)


def open_model_store(settings: Settings) -> tuple[AnyModelStore, Callable[[], None]]:
    """The model store operations use in this process, and in the executors' workers (which start
    later and find it through the environment); operator models are checked and copied in. The
    callable gives the process back the model store it had before (when the app stops)."""
    store = open_models(settings.jobs_backend, settings.model_store_dir)
    restore = install(store)
    load_configured(settings, yaml.safe_load(Path(settings.catalog).read_text()) or {}, store)
    return store, restore


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tune_allocator()  # a pinned allocator (MALLOC_* set for the service) keeps tile arrays on the heap
        services = build_services(settings)
        app.state.services = services
        resumed = services.runner.recover()
        if resumed:
            log.info("resumed %d interrupted job(s)", len(resumed))
        stop_housekeeping = housekeeping.start(services)
        try:
            async with open_stac(settings, services.catalog) as services.stac:
                yield
        finally:
            stop_housekeeping.set()
            services.runner.shutdown()
            services.executor.shutdown()
            services.tile_pool.shutdown(wait=False, cancel_futures=True)
            services.restore_models()

    routes = [r for m in ROUTE_MODULES for r in m.ROUTES]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=errors.HANDLERS,
                    middleware=[Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"],
                                           allow_headers=["*"], expose_headers=["Location", "ETag"])])
    app.state.route_modules = ROUTE_MODULES
    app.state.conformance = sorted({c for m in ROUTE_MODULES for c in m.CONFORMANCE})
    return app
