"""gunicorn settings of the titiler baseline: the same worker class, keep-alive and timeout as
deploy/gunicorn.conf.py, so only the application differs."""
import os

bind = os.environ.get("BENCH_TITILER_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("BENCH_TITILER_WORKERS", "2"))
worker_class = "uvicorn_worker.UvicornWorker"
timeout = 120
graceful_timeout = 30
keepalive = 5
accesslog = None
errorlog = "-"
loglevel = "warning"
control_socket_disable = True  # gunicorn 27's default control socket path is shared per user
