"""What only the PostgreSQL job store has: a database restart (the stored state; a job running
across it: its runner takes its lock again or abandons the run), concurrent migrations."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from processes.engine.executor import make_executor
from processes.jobs import JobRunner, LockLost, PgJobStore, ResultNotFound, open_job_store, run_job
from tests.servers.postgres import emptied, postgres_server, restart_postgres

from .util import W, finished, lock_holder, wait_file, wait_status


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


# -- the run lock across a server restart (RunLock.check) ---------------------------------------

@pytest.fixture(scope="module")
def restartable_server(tmp_path_factory) -> Iterator[str]:
    """A PostgreSQL of this module's own, restarted by its tests (the session's server is shared)."""
    with postgres_server(tmp_path_factory.mktemp("pg-restart")) as dsn:
        yield dsn


@pytest.fixture
def restartable(restartable_server: str) -> str:
    """Its DSN, the stores migrated and emptied for this test."""
    return emptied(restartable_server)


@contextmanager
def _restarted_mid_run(dsn: str, tmp_path: Path, *, report: bool) -> Iterator[tuple[PgJobStore, str, dict, Future, int]]:
    """A `gated` job run in a thread, the server restarted while it runs (checked): yields the
    store, the job id, its request, the run's future and the lock session's pid before the restart."""
    store = open_job_store(dsn, tmp_path / "a")
    req = {"text": "restarted", "log": str(tmp_path / "log"), "started": str(tmp_path / "started"),
           "go": str(tmp_path / "go"), "report": report}
    job_id = store.create("p", req).jobID
    with ThreadPoolExecutor(1) as threads:
        run = threads.submit(run_job, store, job_id, W + "gated")
        wait_file(Path(req["started"] + ".1"))
        before = lock_holder(dsn, job_id)
        assert before is not None and store.get(job_id).status == "running"
        restart_postgres(dsn)
        assert not run.done() and store.get(job_id).status == "running"  # the restart was mid-run
        yield store, job_id, req, run, before


def _wait_holder(dsn: str, job_id: str, not_pid: int | None, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while (pid := lock_holder(dsn, job_id)) is None or pid == not_pid:
        assert time.monotonic() < deadline, "nobody took the run lock again"
        time.sleep(0.02)
    return pid


def test_runner_takes_its_lock_again_after_a_postgresql_restart(restartable: str, tmp_path: Path, caplog) -> None:
    """The server restarts while a job runs and reports progress all along (the restart included);
    nobody else recovers it: the runner takes its lock again on a new session, the job runs once
    and publishes its result."""
    caplog.set_level(logging.WARNING, "processes.jobs")
    with _restarted_mid_run(restartable, tmp_path, report=True) as (store, job_id, req, run, before):
        after = _wait_holder(restartable, job_id, not_pid=before)  # a new session: the runner's
        assert not run.done()
        Path(req["go"] + ".1").touch()
        assert run.result(timeout=60) == "successful"
    rec = store.get(job_id)
    assert rec.attempts == 1 and rec.error is None
    assert store.result_path(job_id, "result.txt").read_text() == "restarted by execution 1"
    assert len(Path(req["log"]).read_text().splitlines()) == 1
    assert lock_holder(restartable, job_id) is None and after != before
    assert "run lock taken again on a new session" in caplog.text


def test_runner_abandons_a_job_another_replica_resumed_after_a_restart(restartable: str, tmp_path: Path,
                                                                        another, caplog) -> None:
    """The server restarts while a job runs; another replica's recovery pass takes the free lock
    and runs the job before the first runner notices: the first abandons (not failed, its staging
    gone, no progress written), the second publishes; one result, of the second attempt."""
    caplog.set_level(logging.WARNING, "processes.jobs")
    with _restarted_mid_run(restartable, tmp_path, report=False) as (store, job_id, req, first, before):
        replica = JobRunner(another(store), make_executor("inline"), W + "gated", coordinators=1)
        assert replica.recover() == [job_id]
        wait_file(Path(req["started"] + ".2"))
        second = _wait_holder(restartable, job_id, not_pid=before)
        Path(req["go"] + ".1").touch()
        assert first.result(timeout=60) == "abandoned"
        rec = store.get(job_id)
        assert rec.status == "running" and rec.attempts == 2 and rec.progress == 0 and rec.error is None
        assert not list((store.root / job_id).glob("staging*"))  # the abandoned attempt's files
        assert lock_holder(restartable, job_id) == second  # the first never took it back
        Path(req["go"] + ".2").touch()
        wait_status(store, job_id, "successful", "failed")
        replica.shutdown()
    rec = store.get(job_id)
    assert rec.status == "successful" and rec.attempts == 2 and rec.error is None
    assert store.result_path(job_id, "result.txt").read_text() == "restarted by execution 2"
    with psycopg.connect(restartable) as c:
        assert c.execute("SELECT DISTINCT attempt FROM geodeferred_job_results WHERE job_id = %s",
                         (job_id,)).fetchall() == [(2,)]
    assert len(Path(req["log"]).read_text().splitlines()) == 2
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("processes.jobs")]
    assert any("attempt 1 abandoned" in m for m in ours) and not any("failed" in m for m in ours)


# -- the run lock's session ended by the server, without a restart ------------------------------

def _terminate(dsn: str, pid: int) -> None:
    """End a session as the server does at a restart (and wait until it is gone)."""
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone() == (True,)


def test_check_of_a_healthy_lock_sends_nothing(empty_jobs_db: str, tmp_path: Path) -> None:
    store = open_job_store(empty_jobs_db, tmp_path / "a")
    job_id = store.create("p", {}).jobID
    with store.try_run_lock(job_id) as lock:
        pid = lock.conn.info.backend_pid
        query = "SELECT query, state_change FROM pg_stat_activity WHERE pid = %s"
        with psycopg.connect(empty_jobs_db) as c:
            seen = c.execute(query, (pid,)).fetchone()
        for _ in range(100):
            lock.check()
        with psycopg.connect(empty_jobs_db) as c:
            assert c.execute(query, (pid,)).fetchone() == seen  # no round trip on the lock session
        assert lock_holder(empty_jobs_db, job_id) == pid and store.try_run_lock(job_id) is None


def test_check_takes_a_terminated_lock_again_or_reports_it_lost(empty_jobs_db: str, tmp_path: Path) -> None:
    store = open_job_store(empty_jobs_db, tmp_path / "a")
    job_id = store.create("p", {}).jobID
    lock = store.try_run_lock(job_id)
    old = lock.conn.info.backend_pid
    _terminate(empty_jobs_db, old)
    lock.check()  # free: taken again
    new = lock_holder(empty_jobs_db, job_id)
    assert new == lock.conn.info.backend_pid and new != old and store.try_run_lock(job_id) is None
    _terminate(empty_jobs_db, new)
    with store.try_run_lock(job_id):  # another process takes it first
        for _ in range(2):  # and it stays lost
            with pytest.raises(LockLost):
                lock.check()
    with pytest.raises(LockLost):
        lock.check()
    lock.release()


def test_only_the_holder_publishes(empty_jobs_db: str, tmp_path: Path) -> None:
    """complete() runs on the lock's session and checks it holds the lock in the same transaction."""
    store = open_job_store(empty_jobs_db, tmp_path / "a")
    job_id = store.create("p", {}).jobID
    store.update(job_id, status="running", attempts=1)
    with store.try_run_lock(job_id) as lock:
        staging = store.new_staging(job_id)
        (staging / "result.txt").write_text("x")
        lock.conn.execute("SELECT pg_advisory_unlock_all()")  # the session lives, the lock is gone
        with pytest.raises(LockLost):
            store.complete(job_id, staging, {"out": {"file": "result.txt"}}, lock)
    rec = store.get(job_id)
    assert rec.status == "running" and rec.results is None
    with pytest.raises(ResultNotFound):
        store.result_path(job_id, "result.txt")
