"""Deployed processes in PostgreSQL: one row per process (its stored document), so a deploy,
replace or undeploy through any replica is seen at once by every other one."""
from __future__ import annotations

import psycopg
from psycopg.types.json import Json

from .. import database
from .package import ID, Deployed
from .store import DeployedProcesses, deployed_of, duplicate, no_such, stored_doc

MIGRATIONS = (
    """
    CREATE TABLE geodeferred_deployed (
        process_id text PRIMARY KEY,
        doc json NOT NULL,
        updated timestamptz NOT NULL DEFAULT now()
    );
    """,
)


def migrate(conn: psycopg.Connection) -> int:
    return database.migrate(conn, "deployed", MIGRATIONS)


class PgDeployedStore(DeployedProcesses):
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def migrate(self) -> int:
        with database.connection(self.dsn) as c:
            return migrate(c)

    def create(self, d: Deployed) -> None:
        with database.connection(self.dsn) as c:
            n = c.execute("INSERT INTO geodeferred_deployed (process_id, doc) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                          (d.id, Json(stored_doc(d)))).rowcount
        if n == 0:
            raise duplicate(d.id)

    def replace(self, d: Deployed) -> None:
        with database.connection(self.dsn) as c:
            n = c.execute("UPDATE geodeferred_deployed SET doc = %s, updated = now() WHERE process_id = %s",
                          (Json(stored_doc(d)), d.id)).rowcount
        if n == 0:
            raise no_such(d.id, replacing=True)

    def delete(self, pid: str) -> None:
        with database.connection(self.dsn) as c:
            n = c.execute("DELETE FROM geodeferred_deployed WHERE process_id = %s", (pid,)).rowcount
        if n == 0:
            raise no_such(pid)

    def get(self, pid: str) -> Deployed | None:
        if not isinstance(pid, str) or not ID.match(pid):
            return None
        with database.connection(self.dsn) as c:
            row = c.execute("SELECT doc FROM geodeferred_deployed WHERE process_id = %s", (pid,)).fetchone()
        return None if row is None else deployed_of(row[0])

    def ids(self) -> list[str]:
        with database.connection(self.dsn) as c:
            return [r[0] for r in c.execute("SELECT process_id FROM geodeferred_deployed ORDER BY process_id")]
