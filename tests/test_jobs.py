"""The job store contract, run against both stores (files; a real PostgreSQL on loopback) and the
runner: lifecycle, safety of ids/paths, retention, restart recovery, at most one run at a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from processes.engine.executor import Executor, make_executor
from processes.jobs import AnyJobStore, JobNotFound, JobRecord, JobRunner, JobStore, PgJobStore, ResultNotFound, open_job_store
from tests import jobs_work  # noqa: F401  (fails loudly if tests/ is shadowed by another 'tests' package)
from tests.servers.postgres import postgres_server, restart_postgres

W = "tests.jobs_work:"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pool() -> Iterator[Executor]:
    ex = make_executor("process:2")
    yield ex
    ex.shutdown()


@pytest.fixture
def store(jobs_backend: str, tmp_path: Path) -> AnyJobStore:
    return open_job_store(jobs_backend, tmp_path / "jobs")


@pytest.fixture
def another(tmp_path: Path) -> Callable[[AnyJobStore], AnyJobStore]:
    """The same store seen from another process (a restarted web worker; for PostgreSQL another
    machine: a local folder of its own)."""
    def make(store: AnyJobStore) -> AnyJobStore:
        if isinstance(store, JobStore):
            return JobStore(store.root)
        return PgJobStore(store.dsn, tmp_path / f"machine-{time.monotonic_ns()}")
    return make


def raw_record(store: AnyJobStore, job_id: str) -> str:
    """The record as stored (job.json, or the row's JSON)."""
    if isinstance(store, JobStore):
        return (store.root / job_id / "job.json").read_text()
    with psycopg.connect(store.dsn) as c:
        return c.execute("SELECT record::text FROM geodeferred_jobs WHERE job_id = %s", (job_id,)).fetchone()[0]


def wait_status(store: JobStore, job_id: str, *statuses: str, timeout: float = 20) -> JobRecord:
    deadline = time.monotonic() + timeout
    while (rec := store.get(job_id)).status not in statuses:
        assert time.monotonic() < deadline, f"job stuck in {rec.status}: {rec}"
        time.sleep(0.05)
    return rec


def wait_file(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def recover_at_once(runners: list[JobRunner]) -> list[list[str]]:
    """recover() on every runner at the same moment, each in a thread of its own."""
    barrier = threading.Barrier(len(runners))
    results: list[list[str]] = []

    def recover(r: JobRunner) -> None:
        barrier.wait()
        results.append(r.recover())

    threads = [threading.Thread(target=recover, args=(r,)) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def crashed_running(store: JobStore, request: dict, attempts: int = 1) -> str:
    """A job as a worker killed mid-run leaves it: running, nobody holding its lock."""
    job_id = store.create("p", request).jobID
    store.update(job_id, status="running", started="2024-01-01T00:00:00.000000Z", attempts=attempts)
    return job_id


def test_create_persists_request_and_record(store: JobStore) -> None:
    rec = store.create("hillshade", {"inputs": {"z": 1}})
    assert rec.status == "accepted" and rec.attempts == 0 and rec.type == "process"
    assert json.loads(raw_record(store, rec.jobID))["status"] == "accepted"
    assert store.request(rec.jobID) == {"inputs": {"z": 1}}
    assert store.get(rec.jobID) == rec
    info = rec.status_info()
    assert info["created"].endswith("Z") and "started" not in info and "results" not in info
    local = [p.name for p in store.root.iterdir()]
    assert local == ([rec.jobID] if isinstance(store, JobStore) else [])  # no temp leftovers


def test_job_runs_in_worker_and_succeeds(store: JobStore, pool: Executor) -> None:
    job_id = store.create("echo", {"text": "hello"}).jobID
    fut = JobRunner(store, pool, W + "write_text").start(job_id)
    rec = wait_status(store, job_id, "successful", "failed")
    assert rec.status == "successful", rec.error
    assert fut.result(timeout=5) == "successful"
    assert rec.progress == 100 and rec.attempts == 1 and rec.started and rec.finished and rec.error is None
    assert rec.results["out"] == {"file": "result.txt", "mediaType": "text/plain"}
    assert rec.results["meta"]["value"]["pid"] != os.getpid()  # ran in a worker process
    assert store.result_path(job_id, "result.txt").read_text() == "hello"
    assert not (store.root / job_id / "staging").exists()


def test_job_runs_on_dask_cluster(store: JobStore) -> None:
    """The runner works unchanged on a dask.distributed executor (shared filesystem)."""
    ex = make_executor("dask-local:1")
    try:
        job_id = store.create("echo", {"text": "dask"}).jobID
        assert JobRunner(store, ex, W + "write_text").start(job_id).result(timeout=60) == "successful"
        assert store.result_path(job_id, "result.txt").read_text() == "dask"
    finally:
        ex.shutdown()


def test_failing_job_records_short_error_only(store: JobStore, pool: Executor) -> None:
    job_id = store.create("p", {"value": "x"}).jobID
    JobRunner(store, pool, W + "fail").start(job_id)
    rec = wait_status(store, job_id, "failed", "successful")
    assert rec.status == "failed" and rec.finished and rec.results is None
    assert rec.error.startswith("RuntimeError: bad input") and "\n" not in rec.error
    raw = raw_record(store, job_id)
    assert "Traceback" not in raw and "File \"" not in raw
    assert not (store.root / job_id / "results").exists()  # partial output never published
    with pytest.raises(ResultNotFound):
        store.result_path(job_id, "partial.tif")


def test_unknown_work_function_fails_the_job(store: JobStore) -> None:
    job_id = store.create("p", {}).jobID
    JobRunner(store, make_executor("inline"), "tests.jobs_work:nope").start(job_id)
    assert store.get(job_id).error.startswith("AttributeError")
    with pytest.raises(ValueError):
        JobRunner(store, make_executor("inline"), "not a path")


@pytest.mark.parametrize(
    "bad", ["", "../etc", "..", "A" * 32, "0" * 31, "0" * 33, "0" * 32 + "\n", "../" + "0" * 32, "0" * 32 + "/..", None]
)
def test_invalid_ids_are_not_found(store: JobStore, bad: object) -> None:
    for call in (store.get, store.request, store.dismiss, store.update):
        with pytest.raises(JobNotFound):
            call(bad)
    with pytest.raises(JobNotFound):
        store.result_path(bad, "result.txt")


def test_unknown_valid_id_is_not_found(store: JobStore) -> None:
    with pytest.raises(JobNotFound):
        store.get("0" * 32)
    with pytest.raises(LookupError):
        store.result_path("0" * 32, "x")


@pytest.mark.parametrize("name", ["../job.json", "../request.json", "/etc/passwd", "a/../../job.json", ".hidden", "", "nope.txt"])
def test_result_path_rejects_traversal(store: JobStore, name: str) -> None:
    job_id = store.create("echo", {"text": "t"}).jobID
    JobRunner(store, make_executor("inline"), W + "write_text").start(job_id)
    assert store.get(job_id).status == "successful"
    with pytest.raises(ResultNotFound):
        store.result_path(job_id, name)


def test_dismiss_finished_job_removes_results(store: JobStore) -> None:
    job_id = store.create("echo", {"text": "t"}).jobID
    JobRunner(store, make_executor("inline"), W + "write_text").start(job_id)
    rec = store.dismiss(job_id)
    assert rec.status == "dismissed" and rec.results is None
    assert store.get(job_id).status == "dismissed"
    assert not (store.root / job_id / "results").exists()
    with pytest.raises(ResultNotFound):
        store.result_path(job_id, "result.txt")
    assert store.dismiss(job_id).status == "dismissed"  # idempotent


def test_dismiss_running_job_stops_it(store: JobStore, pool: Executor, tmp_path: Path) -> None:
    started = tmp_path / "started"
    job_id = store.create("p", {"started": str(started), "steps": 400}).jobID
    fut = JobRunner(store, pool, W + "slow").start(job_id)
    wait_file(started)
    wait_status(store, job_id, "running")
    assert store.dismiss(job_id).status == "dismissed"
    assert fut.result(timeout=10) == "dismissed"  # stopped cooperatively, well before 20 s
    rec = store.get(job_id)
    assert rec.status == "dismissed" and rec.results is None
    assert not (store.root / job_id / "results").exists() and not (store.root / job_id / "staging").exists()


def test_list_newest_first_filters_and_paging(store: JobStore) -> None:
    ids = []
    for i in range(5):
        ids.append(store.create("a" if i % 2 == 0 else "b", {}).jobID)
        time.sleep(0.002)
    store.update(ids[1], status="failed")
    newest_first = ids[::-1]
    assert [r.jobID for r in store.list()] == newest_first
    assert [r.jobID for r in store.list(limit=2, offset=1)] == newest_first[1:3]
    assert [r.jobID for r in store.list(process_id="a")] == [ids[4], ids[2], ids[0]]
    assert [r.jobID for r in store.list(status="failed")] == [ids[1]]
    assert [r.jobID for r in store.list(status=["accepted"], process_id=["b"])] == [ids[3]]
    assert store.list(offset=10) == []


def test_restart_resumes_job_left_running(store: JobStore, pool: Executor, another) -> None:
    job_id = crashed_running(store, {"text": "again"})
    fresh = another(store)  # a restarted web worker
    assert JobRunner(fresh, pool, W + "write_text").recover() == [job_id]
    rec = wait_status(fresh, job_id, "successful", "failed")
    assert rec.status == "successful" and rec.attempts == 2
    assert fresh.result_path(job_id, "result.txt").read_text() == "again"


def test_accepted_job_never_started_is_recovered(store: JobStore, another) -> None:
    job_id = store.create("echo", {"text": "queued"}).jobID  # web worker died before start()
    assert JobRunner(another(store), make_executor("inline"), W + "write_text").recover() == [job_id]
    assert store.get(job_id).status == "successful"


def test_job_locked_by_live_process_is_not_resubmitted(store: JobStore, another) -> None:
    job_id = crashed_running(store, {"text": "x"})
    runner = JobRunner(another(store), make_executor("inline"), W + "write_text")
    lock = store.try_run_lock(job_id)  # "another worker is running it"
    assert lock is not None
    with lock:
        assert store.try_run_lock(job_id) is None
        assert runner.recover() == []
        assert store.get(job_id).status == "running"
    assert runner.recover() == [job_id]
    assert store.get(job_id).status == "successful"


def test_concurrent_recovery_runs_work_once(store: JobStore, tmp_path: Path, another) -> None:
    logs = [tmp_path / f"log{i}" for i in range(3)]
    ids = [crashed_running(store, {"log": str(log), "sleep": 0.3}) for log in logs]
    executors = [make_executor("process:2"), make_executor("process:2")]
    runners = [JobRunner(another(store), ex, W + "append_line") for ex in executors]
    try:
        recover_at_once(runners)
        for job_id in ids:
            assert wait_status(store, job_id, "successful", "failed").status == "successful"
        time.sleep(0.5)  # let any duplicate submission finish (it must find the job final)
        assert [len(log.read_text().splitlines()) for log in logs] == [1, 1, 1]
        assert all(store.get(j).attempts == 2 for j in ids)
    finally:
        for ex in executors:
            ex.shutdown()


def test_too_many_attempts_fails_explicitly(store: JobStore) -> None:
    job_id = crashed_running(store, {"text": "x"}, attempts=3)
    assert JobRunner(store, make_executor("inline"), W + "write_text").recover() == []
    rec = store.get(job_id)
    assert rec.status == "failed" and rec.message == "interrupted too many times" and rec.finished


def test_killed_worker_job_finished_by_new_runner(store: JobStore, tmp_path: Path, another) -> None:
    pidfile = tmp_path / "pid"
    job_id = store.create("p", {"pidfile": str(pidfile)}).jobID
    old = make_executor("process:1")
    try:
        fut = JobRunner(store, old, W + "die_first_time", auto_recover=False).start(job_id)
        wait_file(pidfile)
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
        with pytest.raises(BrokenProcessPool):
            fut.result(timeout=20)
        assert store.get(job_id).status == "running"  # as a crash leaves it
    finally:
        old.shutdown()
    new = make_executor("process:1")
    try:
        assert JobRunner(another(store), new, W + "die_first_time").recover() == [job_id]
        rec = wait_status(store, job_id, "successful", "failed")
        assert rec.status == "successful" and rec.attempts == 2
        assert store.result_path(job_id, "done.txt").read_text() == "done"
    finally:
        new.shutdown()


def test_killed_worker_job_recovered_automatically(store: JobStore, tmp_path: Path) -> None:
    """Same web worker, no restart: the broken pool is replaced and the job resubmitted."""
    pidfile = tmp_path / "pid"
    job_id = store.create("p", {"pidfile": str(pidfile)}).jobID
    ex = make_executor("process:1")
    try:
        JobRunner(store, ex, W + "die_first_time", recover_delay=0.1).start(job_id)
        wait_file(pidfile)
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
        rec = wait_status(store, job_id, "successful", "failed")
        assert rec.status == "successful" and rec.attempts == 2
    finally:
        ex.shutdown()


def test_periodic_recovery(store: JobStore) -> None:
    runner = JobRunner(store, make_executor("inline"), W + "write_text")
    assert runner.recover() == []  # service start: nothing to do
    job_id = crashed_running(store, {"text": "later"})  # a runner dies afterwards
    stop = runner.recover_every(0.05)
    try:
        assert wait_status(store, job_id, "successful", timeout=5).attempts == 2
    finally:
        stop.set()


def test_purge_removes_old_finished_jobs(store: JobStore) -> None:
    done = store.create("echo", {"text": "t"}).jobID
    JobRunner(store, make_executor("inline"), W + "write_text").start(done)
    waiting = store.create("echo", {"text": "t"}).jobID
    assert store.purge(timedelta(hours=1)) == []
    time.sleep(0.01)
    assert store.purge(timedelta(0)) == [done]
    assert [r.jobID for r in store.list()] == [waiting]
    with pytest.raises(JobNotFound):
        store.get(done)


def test_progress_is_throttled_but_its_first_move_always_shows(store: JobStore) -> None:
    from processes.jobs.runner import _Progress

    rec = store.create("p", {})
    store.update(rec.jobID, status="running")
    progress = _Progress(store, rec.jobID, interval=3600)
    progress(0, "evaluating")
    progress(1, "1 of 72 chunks computed")  # inside the interval, but the first measured move
    assert (store.get(rec.jobID).progress, store.get(rec.jobID).message) == (1, "1 of 72 chunks computed")
    progress(2, "2 of 72 chunks computed")  # throttled
    assert store.get(rec.jobID).progress == 1


def test_results_of_several_chunks_read_back_exactly_elsewhere(store: JobStore, another) -> None:
    """Large, empty and nested result files come back byte for byte through another process (for
    PostgreSQL: another machine, which fetches them from the database)."""
    import numpy as np

    size = 2 * 1024 * 1024 + 12345  # 3 chunks of the PostgreSQL store
    job_id = store.create("p", {"seed": 7, "size": size}).jobID
    assert JobRunner(store, make_executor("inline"), W + "write_files").start(job_id).result() == "successful"
    expected = np.random.default_rng(7).integers(0, 256, size, dtype=np.uint8).tobytes()
    elsewhere = another(store)
    assert elsewhere.result_path(job_id, "big.bin").read_bytes() == expected
    assert elsewhere.result_path(job_id, "empty.txt").read_bytes() == b""
    assert json.loads(elsewhere.result_path(job_id, "sub/part.json").read_text()) == {"n": 1}
    if isinstance(store, PgJobStore):
        with psycopg.connect(store.dsn) as c:
            chunks = c.execute("SELECT name, count(*), max(octet_length(data)) FROM geodeferred_job_results "
                               "WHERE job_id = %s GROUP BY name ORDER BY name", (job_id,)).fetchall()
        assert chunks == [("big.bin", 3, 1 << 20), ("empty.txt", 1, 0), ("sub/part.json", 1, 8)]


def _finished(store: JobStore, texts: list[str]) -> list[str]:
    ids = []
    for text in texts:
        ids.append(store.create("echo", {"text": text}).jobID)
        assert JobRunner(store, make_executor("inline"), W + "write_text").start(ids[-1]).result() == "successful"
    return ids


def test_expire_by_age_and_by_size_oldest_first(store: JobStore) -> None:
    ids = _finished(store, ["a" * 100, "b" * 200, "c" * 300])
    assert store.expire(timedelta(days=1)) == []  # young, no size bound
    assert store.expire(timedelta(days=1), max_bytes=350) == ids[:2]  # 600 bytes: the two oldest go
    for job_id in ids[:2]:
        rec = store.get(job_id)
        assert rec.expired and rec.results is None and rec.message == "results expired" and rec.status == "successful"
        with pytest.raises(ResultNotFound):
            store.result_path(job_id, "result.txt")
    assert store.result_path(ids[2], "result.txt").read_text() == "c" * 300
    assert store.expire(timedelta(0)) == [ids[2]]
    assert store.expire(timedelta(0)) == []  # once only
    assert [r.jobID for r in store.list()] == ids[::-1]  # records stay


def test_expired_results_cached_elsewhere_are_not_served(store: JobStore, another) -> None:
    """A result read (and cached) by another replica is refused there once it expired, and its
    copy goes at that replica's next housekeeping."""
    (job_id,) = _finished(store, ["cached"])
    elsewhere = another(store)
    cached = elsewhere.result_path(job_id, "result.txt")
    assert cached.read_text() == "cached"
    assert store.expire(timedelta(0)) == [job_id]
    with pytest.raises(ResultNotFound):
        elsewhere.result_path(job_id, "result.txt")
    assert elsewhere.expire(timedelta(0)) == []
    assert not cached.exists()


RUN_ONE = ("import sys; from processes.jobs import open_job_store, run_job; "
           "print(run_job(open_job_store(sys.argv[1], sys.argv[2]), sys.argv[3], sys.argv[4]))")


def test_runner_process_killed_mid_run_is_resumed_exactly_once(store: JobStore, jobs_backend: str,
                                                                tmp_path: Path, another) -> None:
    """A process running a job is SIGKILLed: its run lock goes with it (for PostgreSQL the server
    ends its session), and of two processes recovering at once exactly one runs the job again."""
    log, pidfile = tmp_path / "log", tmp_path / "pid"
    job_id = store.create("p", {"log": str(log), "pidfile": str(pidfile)}).jobID
    local = store.root if isinstance(store, JobStore) else tmp_path / "runner"  # PostgreSQL: another machine
    proc = subprocess.Popen([sys.executable, "-c", RUN_ONE, jobs_backend, str(local), job_id,
                             W + "log_and_hang_first_time"], cwd=ROOT)
    try:
        wait_file(pidfile)
        assert int(pidfile.read_text()) == proc.pid and store.get(job_id).status == "running"
        assert JobRunner(another(store), make_executor("inline"), W + "log_and_hang_first_time").recover() == []
    finally:
        proc.kill()
        proc.wait(10)
    deadline = time.monotonic() + 10  # the server notices the closed connection at once
    while (lock := store.try_run_lock(job_id)) is None:
        assert time.monotonic() < deadline, "the run lock outlived its process"
        time.sleep(0.02)
    lock.release()
    executors = [make_executor("process:1"), make_executor("process:1")]
    try:
        recover_at_once([JobRunner(another(store), ex, W + "log_and_hang_first_time") for ex in executors])
        rec = wait_status(store, job_id, "successful", "failed")
        time.sleep(0.5)  # a duplicate submission, if any, has had its chance to run
        assert rec.status == "successful" and rec.attempts == 2
        pids = log.read_text().split()
        assert len(pids) == 2 and pids[0] == str(proc.pid) and pids[1] != pids[0]
        assert another(store).result_path(job_id, "done.txt").read_text() == "done"
    finally:
        for ex in executors:
            ex.shutdown()


def test_nothing_lost_across_a_postgresql_restart(tmp_path: Path, another) -> None:
    """Records, requests and results survive a restart of the database server; the same store
    reconnects by itself, and a job accepted before the restart runs after it."""
    with postgres_server(tmp_path / "pg") as dsn:
        store = open_job_store(dsn, tmp_path / "a")
        (done,) = _finished(store, ["kept"])
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
