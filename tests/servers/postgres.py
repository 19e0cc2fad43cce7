"""A real, throw-away PostgreSQL server on loopback for tests.

    with postgres_server(tmp_path) as dsn:      # "postgresql://postgres@127.0.0.1:54321/postgres"
        ...

`initdb` a fresh cluster, start it on a free loopback port (no Unix socket in shared places, trust
authentication on 127.0.0.1 only, fsync off), yield its DSN, stop it (fast shutdown) and delete the
cluster. PostgreSQL refuses to run as root, so under root the cluster lives in a private temporary
directory owned by the `postgres` system user and every server command runs through `runuser`.
Skips the calling test (with the reason) when no PostgreSQL binaries are installed: Debian's
`postgresql-15` (and `postgresql-15-postgis-3` for PostGIS) come from the Makefile's `system-deps`.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

START_TIMEOUT_S = 60


def pg_bindir() -> Path | None:
    """The directory of `initdb`/`pg_ctl`: PATH first, then Debian's /usr/lib/postgresql/<major>/bin."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _runner() -> tuple[list[str], str | None]:
    """Command prefix that runs a server command as a non-root user, and that user (None: ourselves)."""
    if os.geteuid() != 0:
        return [], None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
    return ["runuser", "-u", "postgres", "--"], "postgres"


def _run(prefix: list[str], args: list[str]) -> None:
    done = subprocess.run(prefix + args, capture_output=True, text=True, timeout=START_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")


@contextmanager
def postgres_server(tmp_path: Path) -> Iterator[str]:
    """Start an ephemeral PostgreSQL on 127.0.0.1 and yield its DSN `postgresql://postgres@127.0.0.1:PORT/postgres`."""
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql-15; `make system-deps`)")
    prefix, user = _runner()
    # Under root, pytest's tmp_path (mode 0700, root's) is out of reach of the postgres user.
    root = Path(tempfile.mkdtemp(prefix="pg-")) if user else Path(tmp_path) / "postgres"
    root.mkdir(parents=True, exist_ok=True)
    data, sock, log = root / "data", root / "sock", root / "server.log"
    sock.mkdir()
    if user:
        entry = pwd.getpwnam(user)
        for path in (root, sock):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    started = False
    try:
        _run(prefix, [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--locale=C", "--no-sync"])
        for _attempt in range(3):  # another process may take the free port between probe and bind
            port = _free_port()
            options = (f"-p {port} -c listen_addresses=127.0.0.1 -k {sock} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
            done = subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
                                            "-w", "-t", str(START_TIMEOUT_S), "start"],
                                  capture_output=True, text=True, timeout=START_TIMEOUT_S + 10)
            if done.returncode == 0:
                started = True
                break
        if not started:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else done.stderr
            raise RuntimeError(f"PostgreSQL did not start: {tail}")
        dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        _RESTART[dsn] = prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-m", "fast", "-w",
                                  "-t", str(START_TIMEOUT_S), "restart"]
        yield dsn
        _RESTART.pop(dsn, None)
    finally:
        if started:
            subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True, timeout=START_TIMEOUT_S)
        if user:
            shutil.rmtree(root, ignore_errors=True)


_RESTART: dict[str, list[str]] = {}  # DSN of a running server -> its restart command


def restart_postgres(dsn: str) -> None:
    """Stop the server of `dsn` (fast shutdown: sessions are cut) and start it again, same options."""
    done = subprocess.run(_RESTART[dsn], capture_output=True, text=True, timeout=START_TIMEOUT_S * 2)
    if done.returncode != 0:
        raise RuntimeError(f"pg_ctl restart failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")


@pytest.fixture
def postgres_dsn(tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL per test (see `postgres_server`)."""
    with postgres_server(tmp_path) as dsn:
        yield dsn


def emptied(dsn: str) -> str:
    """The database migrated and emptied for one test: jobs, stored workflow results, deployed
    processes and models (everything a PostgreSQL backend keeps); returns the DSN."""
    import psycopg

    from processes.deployed.pg import migrate as deployed
    from processes.graphs.pg import migrate as graphs
    from processes.jobs.pg import migrate as jobs
    from processes.models.pg import migrate as models

    with psycopg.connect(dsn, autocommit=True) as c:
        for migrate in (jobs, graphs, deployed, models):
            migrate(c)
        c.execute("SET lock_timeout = '20s'")
        c.execute("TRUNCATE geodeferred_jobs, geodeferred_graphs, geodeferred_deployed, geodeferred_models CASCADE")
    return dsn
