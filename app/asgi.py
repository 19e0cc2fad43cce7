"""The ASGI entry point for gunicorn/uvicorn: settings come from GEODEFERRED_* variables."""
from .main import create_app

app = create_app()
