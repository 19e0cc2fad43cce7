"""Stored workflow results in PostgreSQL: one row per graph (its document, when it was last
stored); an expired graph keeps its row as a tombstone (document NULL, `gone` set), so every
replica answers 410 for it until the tombstone ages out."""
from __future__ import annotations

import math
import time
from typing import Any

import psycopg
from psycopg.types.json import Json

from .. import database
from .store import GONE, TOMBSTONE_LIFE, Found, StoredGraphs

MIGRATIONS = (
    """
    CREATE TABLE geodeferred_graphs (
        graph_id text PRIMARY KEY,
        doc json,
        stored timestamptz NOT NULL DEFAULT now(),
        gone timestamptz
    );
    CREATE INDEX geodeferred_graphs_stored ON geodeferred_graphs (stored DESC) WHERE doc IS NOT NULL;
    """,
)


def migrate(conn: psycopg.Connection) -> int:
    return database.migrate(conn, "graphs", MIGRATIONS)


class PgGraphStore(StoredGraphs):
    def __init__(self, dsn: str, retention: float = float("inf")) -> None:
        super().__init__(retention)
        self.dsn = dsn

    def migrate(self) -> int:
        with database.connection(self.dsn) as c:
            return migrate(c)

    def _store(self, gid: str, doc: dict[str, Any]) -> None:
        with database.connection(self.dsn) as c:
            c.execute("INSERT INTO geodeferred_graphs (graph_id, doc) VALUES (%s, %s) ON CONFLICT (graph_id) "
                      "DO UPDATE SET doc = EXCLUDED.doc, stored = now(), gone = NULL", (gid, Json(doc)))

    def _load(self, gid: str) -> Found:
        with database.connection(self.dsn) as c:
            row = c.execute("SELECT doc, extract(epoch FROM stored)::float8 FROM geodeferred_graphs WHERE graph_id = %s",
                            (gid,)).fetchone()
        if row is None:
            return None
        return GONE if row[0] is None else (row[0], row[1])

    def ids(self) -> list[str]:
        with database.connection(self.dsn) as c:
            return [r[0] for r in c.execute("SELECT graph_id FROM geodeferred_graphs WHERE doc IS NOT NULL ORDER BY graph_id")]

    def expire(self, now: float | None = None) -> list[str]:
        if math.isinf(self.retention):
            return []
        now = time.time() if now is None else now
        with database.connection(self.dsn) as c:
            gone = [r[0] for r in c.execute(
                "UPDATE geodeferred_graphs SET doc = NULL, gone = now() WHERE doc IS NOT NULL "
                "AND stored <= to_timestamp(%s) RETURNING graph_id", (now - self.retention,))]
            c.execute("DELETE FROM geodeferred_graphs WHERE doc IS NULL AND gone < to_timestamp(%s)",
                      (now - TOMBSTONE_LIFE * self.retention,))
        return self._forget(sorted(gone))

    def recent(self, n: int) -> list[str]:
        with database.connection(self.dsn) as c:
            return [r[0] for r in c.execute("SELECT graph_id FROM geodeferred_graphs WHERE doc IS NOT NULL "
                                            "ORDER BY stored DESC, graph_id DESC LIMIT %s", (n,))]
