"""The PostgreSQL job store: the file store's interface for replicas that share no disk.

Records and requests are rows, results are 1 MiB bytea chunks (streamed in with COPY and out with a
server-side cursor, so memory does not grow with a result's size), and the run lock is a
session-level advisory lock held on a connection of its own by the process that runs the job: the
server drops it when that process (and so its connection) dies, which is what lets recovery resume
exactly the jobs nobody runs; a runner whose lock session broke takes it again or abandons its
attempt (see pglock), and results are published on the lock session. `root` is this machine's own
folder::

    root/{job_id}/staging-{attempt}/  where an attempt running here writes (uploaded by complete();
                             one folder per attempt: an abandoned attempt and the one that took
                             over may run side by side for a moment)
    root/{job_id}/results/   read-through cache of published results (checked against the
                             database on every access, pruned when they expire)

The schema is created or migrated at start (`migrate()`), serialised by an advisory lock.
"""

from __future__ import annotations

import builtins
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Json, Jsonb

from .. import database
from .pglock import PgRunLock, holds
from .records import (FINAL, _ID_RE, JobNotFound, JobRecord, LockLost, ResultNotFound, _as_set, changed, check_id,
                      dismissed, expired, new_record, result_parts, succeeded)
from .retention import Retention

MIGRATIONS = (
    """
    CREATE SEQUENCE geodeferred_job_lock_keys AS integer CYCLE;
    CREATE TABLE geodeferred_jobs (
        job_id text PRIMARY KEY,
        process_id text NOT NULL,
        status text NOT NULL,
        created text NOT NULL,
        lock_key integer NOT NULL DEFAULT nextval('geodeferred_job_lock_keys'),
        results_attempt integer,
        record jsonb NOT NULL,
        request json NOT NULL
    );
    CREATE INDEX geodeferred_jobs_newest ON geodeferred_jobs (created DESC, job_id DESC);
    CREATE INDEX geodeferred_jobs_status ON geodeferred_jobs (status);
    CREATE TABLE geodeferred_job_results (
        job_id text NOT NULL REFERENCES geodeferred_jobs ON DELETE CASCADE,
        attempt integer NOT NULL,
        name text NOT NULL,
        seq integer NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (job_id, attempt, name, seq)
    );
    ALTER TABLE geodeferred_job_results ALTER COLUMN data SET STORAGE EXTERNAL;
    """,
)


def migrate(conn: psycopg.Connection) -> int:
    """Apply the job store's migrations this database lacks; returns the schema version."""
    return database.migrate(conn, "jobs", MIGRATIONS)


class PgJobStore(Retention):
    """Job records, requests and results in PostgreSQL, shared by every replica."""

    def __init__(self, dsn: str, root: Path | str) -> None:
        self.dsn, self.root = dsn, Path(root)  # both picklable: executors get the store itself
        self.root.mkdir(parents=True, exist_ok=True)

    def migrate(self) -> int:
        with self._conn() as c:
            return migrate(c)

    def try_run_lock(self, job_id: str) -> PgRunLock | None:
        """The job's advisory lock on a session of its own, if no other session holds it."""
        return PgRunLock.try_take(self.dsn, check_id(job_id))

    def create(self, process_id: str, request: dict[str, Any]) -> JobRecord:
        rec = new_record(process_id)
        with self._conn() as c:
            c.execute("INSERT INTO geodeferred_jobs (job_id, process_id, status, created, record, request) "
                      "VALUES (%s, %s, %s, %s, %s, %s)",
                      (rec.jobID, rec.processID, rec.status, rec.created, Jsonb(rec.model_dump()), Json(request)))
        return rec

    def get(self, job_id: str) -> JobRecord:
        return JobRecord.model_validate(self._one("SELECT record FROM geodeferred_jobs WHERE job_id = %s", job_id)[0])

    def request(self, job_id: str) -> dict[str, Any]:
        return self._one("SELECT request FROM geodeferred_jobs WHERE job_id = %s", job_id)[0]

    def result_path(self, job_id: str, name: str) -> Path:
        """A local file with the published result, fetched from the database unless cached here."""
        (attempt,) = self._one("SELECT results_attempt FROM geodeferred_jobs WHERE job_id = %s", job_id)
        rel = "/".join(result_parts(name))
        path = self.root / job_id / "results" / rel
        with self._conn() as c:
            if attempt is None or c.execute(
                    "SELECT 1 FROM geodeferred_job_results WHERE job_id = %s AND attempt = %s AND name = %s AND seq = 0",
                    (job_id, attempt, rel)).fetchone() is None:
                raise ResultNotFound(name)
            if not path.is_file():
                self._download(c, job_id, attempt, rel, path)
        return path

    def update(self, job_id: str, *, only_if: Iterable[str] | None = None, **fields: Any) -> JobRecord:
        """Atomically change fields; with only_if, only when the current status is one of those."""
        allowed = _as_set(only_if)
        with self._locked(job_id) as (c, rec):
            if allowed is not None and rec.status not in allowed:
                return rec
            return self._write(c, changed(rec, **fields))

    def dismiss(self, job_id: str) -> JobRecord:
        """OGC DELETE /jobs/{id}: status dismissed, results removed, record kept."""
        with self._locked(job_id) as (c, rec):
            if rec.status != "dismissed":
                rec = self._write(c, dismissed(rec), results_attempt=None)
            c.execute("DELETE FROM geodeferred_job_results WHERE job_id = %s", (job_id,))
        shutil.rmtree(self.root / job_id, ignore_errors=True)
        return rec

    def list(self, limit: int | None = None, offset: int = 0, status: str | Iterable[str] | None = None,
             process_id: str | Iterable[str] | None = None) -> builtins.list[JobRecord]:
        """Jobs newest first, optionally filtered by status/process id, then paged."""
        statuses, processes = _as_set(status), _as_set(process_id)
        with self._conn() as c:
            rows = c.execute("SELECT record FROM geodeferred_jobs WHERE (%(s)s::text[] IS NULL OR status = ANY(%(s)s)) "
                             "AND (%(p)s::text[] IS NULL OR process_id = ANY(%(p)s)) "
                             "ORDER BY created DESC, job_id DESC LIMIT %(limit)s OFFSET %(offset)s",
                             {"s": None if statuses is None else sorted(statuses),
                              "p": None if processes is None else sorted(processes),
                              "limit": limit, "offset": offset}).fetchall()
        return [JobRecord.model_validate(r[0]) for r in rows]

    # -- used by run_job in the worker process --------------------------------------

    def new_staging(self, job_id: str) -> Path:
        """A fresh, empty local staging folder for the current attempt (only called under the job's
        run lock); other attempts' folders here are leftovers (interrupted, or abandoned)."""
        job_dir = self.root / check_id(job_id)
        for old in job_dir.glob("staging*"):
            shutil.rmtree(old, ignore_errors=True)
        staging = job_dir / f"staging-{self.get(job_id).attempts}"
        staging.mkdir(parents=True)
        return staging

    def complete(self, job_id: str, staging: Path, manifest: dict[str, Any], lock: PgRunLock) -> JobRecord:
        """Upload staging as this attempt's results, then publish them and mark successful in one
        short transaction, unless dismissed meanwhile. Both run on the run lock's session and the
        publication checks that the session holds the lock (LockLost if not): a session that broke
        meanwhile fails them, so only the lock's holder publishes. An upload cut short leaves rows
        of an attempt that is never published; the next publication or the job's deletion removes them."""
        attempt = self.get(job_id).attempts
        c = lock.conn
        with c.transaction():
            c.execute("DELETE FROM geodeferred_job_results WHERE job_id = %s AND attempt = %s", (job_id, attempt))
            self._upload(c, job_id, attempt, staging)
        with self._locked(job_id, c) as (_, rec):
            if not holds(c, job_id):
                raise LockLost(f"job {job_id}: its run lock is not held by the publishing session")
            if rec.status != "running":
                c.execute("DELETE FROM geodeferred_job_results WHERE job_id = %s AND attempt = %s", (job_id, attempt))
                shutil.rmtree(staging, ignore_errors=True)
                return rec
            c.execute("DELETE FROM geodeferred_job_results WHERE job_id = %s AND attempt <> %s", (job_id, attempt))
            rec = self._write(c, succeeded(rec, manifest), results_attempt=attempt)
        results = staging.parent / "results"  # what this machine wrote is its cache
        shutil.rmtree(results, ignore_errors=True)
        os.rename(staging, results)
        return rec

    # -- retention primitives (see Retention) -------------------------------------

    def _delete(self, job_id: str) -> bool:
        with self._conn() as c:
            gone = c.execute("DELETE FROM geodeferred_jobs WHERE job_id = %s", (job_id,)).rowcount > 0
        shutil.rmtree(self.root / job_id, ignore_errors=True)
        return gone

    def _result_sizes(self, finished: builtins.list[JobRecord]) -> dict[str, int]:
        with self._conn() as c:
            rows = c.execute("SELECT r.job_id, sum(octet_length(r.data)) FROM geodeferred_job_results r "
                             "JOIN geodeferred_jobs j ON j.job_id = r.job_id AND r.attempt = j.results_attempt "
                             "GROUP BY r.job_id").fetchall()
        return {job_id: int(size) for job_id, size in rows}

    def _expire_one(self, job_id: str) -> bool:
        try:
            with self._locked(job_id) as (c, rec):
                if rec.status not in FINAL or rec.expired is not None:
                    return False
                self._write(c, expired(rec), results_attempt=None)
                c.execute("DELETE FROM geodeferred_job_results WHERE job_id = %s", (job_id,))
        except JobNotFound:  # purged meanwhile
            return False
        shutil.rmtree(self.root / job_id / "results", ignore_errors=True)
        return True

    def _tidy(self) -> None:
        """Drop cached results that are no longer published (expired, dismissed or purged through
        another replica), and the folders of jobs left with nothing here."""
        with self._conn() as c:
            live = {r[0] for r in c.execute("SELECT job_id FROM geodeferred_jobs WHERE results_attempt IS NOT NULL")}
        for d in self.root.iterdir():
            if _ID_RE.fullmatch(d.name) and d.name not in live:
                shutil.rmtree(d / "results", ignore_errors=True)
                with suppress(OSError):
                    d.rmdir()  # kept while a job stages here

    # -- internals ----------------------------------------------------------------

    def _conn(self) -> Any:
        return database.connection(self.dsn)

    def _one(self, sql: str, job_id: str) -> tuple:
        check_id(job_id)
        with self._conn() as c:
            row = c.execute(sql, (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return row

    @contextmanager
    def _locked(self, job_id: str, conn: psycopg.Connection | None = None) -> Iterator[tuple[psycopg.Connection, JobRecord]]:
        """A transaction holding the job's row lock, and its record as it is now."""
        check_id(job_id)
        with (self._conn() if conn is None else _same(conn)) as c, c.transaction():
            row = c.execute("SELECT record FROM geodeferred_jobs WHERE job_id = %s FOR UPDATE", (job_id,)).fetchone()
            if row is None:
                raise JobNotFound(job_id)
            yield c, JobRecord.model_validate(row[0])

    @staticmethod
    def _write(c: psycopg.Connection, new: JobRecord, **columns: Any) -> JobRecord:
        sets = "".join(f", {k} = %({k})s" for k in columns)  # keys are this module's own column names
        c.execute(f"UPDATE geodeferred_jobs SET record = %(record)s, status = %(status)s, process_id = %(pid)s{sets} "
                  "WHERE job_id = %(id)s",
                  {"record": Jsonb(new.model_dump()), "status": new.status, "pid": new.processID, "id": new.jobID,
                   **columns})
        return new

    @staticmethod
    def _upload(c: psycopg.Connection, job_id: str, attempt: int, staging: Path) -> None:
        with c.cursor().copy("COPY geodeferred_job_results (job_id, attempt, name, seq, data) "
                             "FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "int4", "text", "int4", "bytea"])
            for path in sorted(p for p in staging.rglob("*") if p.is_file()):
                name = path.relative_to(staging).as_posix()
                with open(path, "rb") as f:
                    for seq, chunk in database.chunks(f):
                        copy.write_row((job_id, attempt, name, seq, chunk))

    @staticmethod
    def _download(c: psycopg.Connection, job_id: str, attempt: int, rel: str, path: Path) -> None:
        database.download(c, "SELECT data FROM geodeferred_job_results WHERE job_id = %s AND attempt = %s AND name = %s "
                          "ORDER BY seq", (job_id, attempt, rel), path)


@contextmanager
def _same(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    yield conn
