"""gunicorn settings: uvicorn workers, one per core by default; demo data built once in the master."""
import os

from app.settings import Settings

_settings = Settings()
bind = f"{_settings.host}:{_settings.port}"
workers = _settings.workers
worker_class = "uvicorn_worker.UvicornWorker"
timeout = 120
graceful_timeout = 30
keepalive = 5
accesslog = os.environ.get("GEODEFERRED_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GEODEFERRED_LOG_LEVEL", "info")


def on_starting(server):  # noqa: ARG001 - gunicorn hook signature
    """Build the demo data before forking, so workers start on ready files."""
    if _settings.build_demo_data:
        from app.demo_data import build_demo_data

        build_demo_data(_settings.data_dir, dem_width=_settings.dem_width)
