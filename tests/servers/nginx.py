"""A real nginx (Debian's) on loopback as the load balancer in front of service replicas, with a
generated configuration (keep-alive to the upstreams, a failed upstream retried on the next).

    with nginx_server(tmp_path, ["127.0.0.1:8001", "127.0.0.1:8002"]) as url:   # "http://127.0.0.1:PORT"
        ...
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

from ._process import free_port, port_open, stop, wait_until

CONFIG = """\
{user}
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream geodeferred {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://geodeferred;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream error timeout http_502;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


@contextlib.contextmanager
def nginx_server(tmp_path: Path, upstreams: list[str]) -> Iterator[str]:
    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if exe is None:
        import pytest

        pytest.skip("nginx is not installed (make system-deps installs Debian's nginx-light)")
    port = free_port()
    folder = tmp_path / f"nginx-{port}"
    folder.mkdir()
    servers = "\n".join(f"        server {u} max_fails=1 fail_timeout=2s;" for u in upstreams)
    user = "user root;" if os.geteuid() == 0 else ""  # temp folders under the test's own tmp
    conf = folder / "nginx.conf"
    conf.write_text(CONFIG.format(user=user, dir=folder, servers=servers, port=port))
    proc = subprocess.Popen([exe, "-c", str(conf), "-p", str(folder)], stdout=subprocess.DEVNULL,
                            stderr=open(folder / "stderr.log", "ab"))
    try:
        wait_until(lambda: port_open(port), proc, lambda: f"nginx did not start; see {folder / 'error.log'}")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
