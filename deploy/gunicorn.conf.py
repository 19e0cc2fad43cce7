"""gunicorn settings: uvicorn workers, one per core by default; demo data built once in the master."""
import os

from app.settings import Settings

_settings = Settings()
bind = f"{_settings.host}:{_settings.port}"
workers = _settings.workers
worker_class = "app.workers.FairUvicornWorker"
timeout = 120
graceful_timeout = 30
keepalive = 5
accesslog = os.environ.get("GEODEFERRED_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GEODEFERRED_LOG_LEVEL", "info")
# gunicorn 27's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl), shared by
# every instance on the machine; keep one per data directory instead.
control_socket = str(_settings.data_dir.parent / "gunicorn.ctl")


def _logging() -> dict:
    """gunicorn's own logging configuration plus our loggers on its stderr handler."""
    from copy import deepcopy

    from gunicorn.glogging import CONFIG_DEFAULTS

    cfg = deepcopy(CONFIG_DEFAULTS)
    for name in ("gunicorn.error", "gunicorn.access"):
        cfg["loggers"][name]["propagate"] = False  # else the root handler prints each line twice
    for name in ("geodeferred", "processes"):  # geodeferred.demodata: the first-start progress lines
        cfg["loggers"][name] = {"level": loglevel.upper(), "handlers": ["error_console"], "propagate": False}
    return cfg


logconfig_dict = _logging()


def on_starting(server):  # noqa: ARG001 - gunicorn hook signature
    """Build the demo data before forking, so workers start on ready files."""
    if _settings.build_demo_data:
        from demodata import build_demo_data

        build_demo_data(_settings.data_dir, size=_settings.demo_size, dem_width=_settings.dem_width)
