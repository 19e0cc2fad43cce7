"""All configuration in one place, read from GEODEFERRED_* environment variables when the app is built."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GEODEFERRED_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(2, ge=1, description="gunicorn web worker processes")
    public_url: str | None = Field(None, description="Base URL in links; default: taken from each request")
    catalog: Path = ROOT / "collections" / "catalog.yaml"
    data_dir: Path = ROOT / "var" / "data"
    jobs_dir: Path = ROOT / "var" / "jobs"
    dem_width: int = Field(4320, ge=64, description="Width of the generated demo DEM (height is half)")
    demo_size: Literal["default", "large"] = Field(
        "default", description="Demo AOI: 'default' (10 km, ~290 parcels, built at first start) or 'large' "
        "(41 km, ~6,000 parcels, for benchmarks)")
    build_demo_data: bool = Field(True, description="Build missing demo data into data_dir at start; false: use what "
                                  "another process built there (e.g. a job filling a read-only volume)")
    stac_dir: Path | None = Field(None, description="Where the STAC API's derived files go (thumbnails, item table); "
                                  "default data_dir/stac (set it when data_dir is read-only)")
    executor: str = Field("process:2", description="'inline', 'process[:N]', 'dask://host:port'")
    tile_threads: int = Field(2, ge=1, le=64, description="Threads rendering tiles in each web worker: more "
                              "than the cores only adds GIL contention")
    tile_cache: str = Field("memory", description="'memory', 'none', 'disk:/path[:max_megabytes]' (shared by workers) "
                            "or 'redis://host:port/db' (shared by replicas)")
    tile_cache_entries: int = Field(4096, ge=0, description="Entries of the in-process tile cache")
    max_sync_pixels: int = Field(16_000_000, ge=1, description="Largest region a sync execution may compute")
    max_job_pixels: int = Field(400_000_000, ge=1, description="Largest region any execution may compute")
    job_coordinators: int = Field(2, ge=1, le=64, description="Jobs each web worker coordinates at once (their chunks "
                                  "run in the executor; more jobs wait, accepted, in the job store)")
    region_chunk: int = Field(1024, ge=64, description="Side of the chunks a region is split into")
    max_tile_queue: int = Field(32, ge=1, description="Tiles a web worker computes or queues at once; more get 503 + Retry-After")
    max_sync_executions: int = Field(2, ge=1, description="Synchronous executions and coverages a web worker computes "
                                     "at once; more get 503 + Retry-After")
    max_active_jobs: int = Field(100, ge=1, description="Accepted and running jobs of the whole service; more "
                                 "submissions get 503 + Retry-After")
    retention_hours: float = Field(168.0, gt=0, description="Finished jobs' results and stored workflow results "
                                   "expire this long after they finish (or were last stored); then 410 Gone")
    max_results_mb: int = Field(10240, ge=1, description="Space (disk, or PostgreSQL) the results of finished jobs may use; the oldest "
                                "expire first past it")
    housekeeping_interval: float = Field(60.0, gt=0, description="Seconds between job recovery and expiry passes")
    max_sync_zonal_pixels: int = Field(150_000_000, ge=1, description="Most pixel reads (window pixels x dates) "
                                       "a synchronous zonal statistics or time-series execution may do")
    zonal_chunk: int = Field(512, ge=16, description="Side of the raster chunks zonal statistics split features by "
                             "(only chunks holding features are read)")
    allowed_remote_prefixes: list[str] = Field(default_factory=list,
                                               description="URL prefixes that catalog entries may point at")
    stac_backend: str = Field("embedded", pattern=r"^(embedded|postgres(ql)?://.+)$",
                              description="STAC API backend: 'embedded' (stac-geoparquet + DuckDB, no server) "
                                          "or a postgresql://user:password@host:port/db DSN (pgstac)")
    jobs_backend: str = Field("embedded", pattern=r"^(embedded|postgres(ql)?://.+)$",
                              description="Where jobs, stored workflow results, deployed processes and models live: "
                                          "'embedded' (files in jobs_dir, shared by the web workers) or a "
                                          "postgresql://user:password@host:port/db DSN (all of them in PostgreSQL, "
                                          "jobs_dir only this machine's copies: replicas share no disk)")
    models_dir: Path | None = Field(None, description="Model store shared by the workers (with a PostgreSQL jobs_backend: "
                                    "this machine's copies of the database's models); default jobs_dir/models")
    model_files_dir: Path | None = Field(None, description="Folder of ONNX files users may register at POST /models")

    @property
    def stac_work_dir(self) -> Path:
        return self.stac_dir or self.data_dir / "stac"

    @property
    def model_store_dir(self) -> Path:
        return self.models_dir or self.jobs_dir / "models"
