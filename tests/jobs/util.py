"""Helpers of the job tests: the stored record, waiting for a status or a file, concurrent
recovery, a crashed job, finished jobs."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg

from processes.engine.executor import make_executor
from processes.jobs import AnyJobStore, JobRecord, JobRunner, JobStore
from tests import jobs_work  # noqa: F401  (fails loudly if tests/ is shadowed by another 'tests' package)

W = "tests.jobs_work:"
ROOT = Path(__file__).resolve().parents[2]


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


def finished(store: JobStore, texts: list[str]) -> list[str]:
    ids = []
    for text in texts:
        ids.append(store.create("echo", {"text": text}).jobID)
        assert JobRunner(store, make_executor("inline"), W + "write_text").start(ids[-1]).result() == "successful"
    return ids


def lock_holder(dsn: str, job_id: str) -> int | None:
    """The backend pid of the session holding the job's run lock (None: free)."""
    from processes.database import LOCK_CLASS

    with psycopg.connect(dsn) as c:
        row = c.execute("SELECT l.pid FROM pg_locks l JOIN geodeferred_jobs j ON l.objid = j.lock_key::oid "
                        "WHERE j.job_id = %s AND l.locktype = 'advisory' AND l.classid = %s::oid "
                        "AND l.objsubid = 2 AND l.granted", (job_id, LOCK_CLASS)).fetchone()
    return None if row is None else row[0]
