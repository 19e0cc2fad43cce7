"""The PostgreSQL launcher: a real server answers on loopback, and is gone after the block."""
from __future__ import annotations

import shutil
import socket
import subprocess
from urllib.parse import urlparse

import pytest

from tests.servers.postgres import postgres_server


def _psql(dsn: str, sql: str) -> str:
    if shutil.which("psql") is None:
        pytest.skip("psql (postgresql-client) is not installed")
    done = subprocess.run(["psql", dsn, "-XAtc", sql], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_server_answers_and_stops(tmp_path):
    with postgres_server(tmp_path) as dsn:
        url = urlparse(dsn)
        assert url.scheme == "postgresql" and url.hostname == "127.0.0.1"
        assert _psql(dsn, "select 6 * 7") == "42"
        _psql(dsn, "create table t (x int); insert into t values (1), (2)")
        assert _psql(dsn, "select sum(x) from t") == "3"
        port = url.port
    with socket.socket() as s:  # nothing listens there any more
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_two_servers_side_by_side(tmp_path):
    with postgres_server(tmp_path / "a") as a, postgres_server(tmp_path / "b") as b:
        assert urlparse(a).port != urlparse(b).port
        _psql(a, "create table only_in_a (x int)")
        assert _psql(b, "select count(*) from pg_tables where tablename = 'only_in_a'") == "0"
