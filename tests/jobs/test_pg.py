"""What only the PostgreSQL job store has: a database restart, concurrent migrations."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg

from processes.engine.executor import make_executor
from processes.jobs import JobRunner, open_job_store
from tests.servers.postgres import postgres_server, restart_postgres

from .util import W, finished


def test_nothing_lost_across_a_postgresql_restart(tmp_path: Path, another) -> None:
    """Records, requests and results survive a restart of the database server; the same store
    reconnects by itself, and a job accepted before the restart runs after it."""
    with postgres_server(tmp_path / "pg") as dsn:
        store = open_job_store(dsn, tmp_path / "a")
        (done,) = finished(store, ["kept"])
        waiting = store.create("echo", {"text": "later"}).jobID
        restart_postgres(dsn)
        assert store.get(done).status == "successful" and store.request(waiting) == {"text": "later"}
        assert another(store).result_path(done, "result.txt").read_text() == "kept"
        assert JobRunner(store, make_executor("inline"), W + "write_text").recover() == [waiting]
        assert store.result_path(waiting, "result.txt").read_text() == "later"
        assert store.migrate() == 1
        with psycopg.connect(dsn) as c:
            assert c.execute("SELECT version FROM geodeferred_jobs_schema").fetchall() == [(1,)]


def test_replicas_starting_together_migrate_once(empty_jobs_db: str, tmp_path: Path) -> None:
    with psycopg.connect(empty_jobs_db, autocommit=True) as c:
        c.execute("DROP TABLE geodeferred_job_results, geodeferred_jobs, geodeferred_jobs_schema")
        c.execute("DROP SEQUENCE geodeferred_job_lock_keys")
    results: list[int] = []
    threads = [threading.Thread(target=lambda i=i: results.append(open_job_store(empty_jobs_db, tmp_path / str(i)).migrate()))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1, 1, 1, 1]
    with psycopg.connect(empty_jobs_db) as c:
        assert c.execute("SELECT version FROM geodeferred_jobs_schema").fetchall() == [(1,)]
