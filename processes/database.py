"""What every PostgreSQL store of the service shares (jobs, stored workflow results, deployed
processes, models): one connection pool per process and DSN, versioned migrations per store, and
large values as 1 MiB bytea chunks streamed in with COPY and out with a server-side cursor (memory
does not grow with a value's size).

Each store names its own schema table (`geodeferred_{name}_schema`, one row per applied version)
and lists its migrations; `migrate` applies the missing ones at start, serialised across replicas
by one advisory lock.
"""
from __future__ import annotations

import atexit
import os
import threading
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

LOCK_CLASS = 0x67646A62  # advisory lock namespace ('gdjb'); key 0 serialises migrations, jobs use 1..2^31-1
CHUNK = 1 << 20

_POOLS: dict[tuple[int, str], ConnectionPool] = {}  # per process (a forked child makes its own)
_POOLS_LOCK = threading.Lock()


def pool(dsn: str) -> ConnectionPool:
    """This process's pool for `dsn` (autocommit connections, checked before each use)."""
    key = (os.getpid(), dsn)
    with _POOLS_LOCK:
        p = _POOLS.get(key)
        if p is None:
            p = _POOLS[key] = ConnectionPool(dsn, min_size=1, max_size=8, kwargs={"autocommit": True},
                                             check=ConnectionPool.check_connection, open=True, name="geodeferred")
    return p


def connection(dsn: str) -> Any:
    """A pooled connection as a context manager (returned to the pool on exit)."""
    return pool(dsn).connection()


@atexit.register
def _close_pools() -> None:
    for (pid, _), p in list(_POOLS.items()):
        if pid == os.getpid():
            p.close()


def migrate(conn: psycopg.Connection, name: str, migrations: Sequence[str]) -> int:
    """Apply the migrations of store `name` this database lacks; returns its schema version."""
    table = sql.Identifier(f"geodeferred_{name}_schema")
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_CLASS,))
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (version integer NOT NULL)").format(table))
        current = conn.execute(sql.SQL("SELECT coalesce(max(version), 0) FROM {}").format(table)).fetchone()[0]
        for version, step in enumerate(migrations[current:], start=current + 1):
            conn.execute(step)
            conn.execute(sql.SQL("INSERT INTO {} VALUES (%s)").format(table), (version,))
    return len(migrations)


def chunks(f: BinaryIO) -> Iterable[tuple[int, bytes]]:
    """(seq, bytes) of a file in CHUNK pieces; an empty file is one empty chunk."""
    seq = 0
    while (chunk := f.read(CHUNK)) or seq == 0:
        yield seq, chunk
        seq += 1


def download(c: psycopg.Connection, query: str, params: Sequence[Any], path: Path) -> None:
    """Write the bytea chunks `query` selects (in order, one column) to `path`, atomically: a
    concurrent reader sees the whole file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".dl-{uuid.uuid4().hex}"
    try:
        with c.transaction(), c.cursor(name=f"chunks_{uuid.uuid4().hex}") as cur, open(tmp, "wb") as f:
            cur.itersize = 4  # chunks held at once
            cur.execute(query, params)
            for (data,) in cur:
                f.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
