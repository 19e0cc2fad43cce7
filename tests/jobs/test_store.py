"""The job store contract, against both stores: records, requests, ids and result paths, the run
lock, dismissal, listing, purge, results read back elsewhere, expiry."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import psycopg
import pytest

from processes.engine.executor import make_executor
from processes.jobs import JobNotFound, JobRunner, JobStore, LockLost, PgJobStore, ResultNotFound

from .util import W, finished, raw_record


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


def test_expire_by_age_and_by_size_oldest_first(store: JobStore) -> None:
    ids = finished(store, ["a" * 100, "b" * 200, "c" * 300])
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
    (job_id,) = finished(store, ["cached"])
    elsewhere = another(store)
    cached = elsewhere.result_path(job_id, "result.txt")
    assert cached.read_text() == "cached"
    assert store.expire(timedelta(0)) == [job_id]
    with pytest.raises(ResultNotFound):
        elsewhere.result_path(job_id, "result.txt")
    assert elsewhere.expire(timedelta(0)) == []
    assert not cached.exists()


def test_run_lock_checks_out_while_held(store: JobStore, another) -> None:
    """RunLock.check() of a held lock returns (a flock can never be lost while its holder lives; a
    healthy PostgreSQL session keeps its lock), the lock stays exclusive, and a released lock is lost."""
    job_id = store.create("p", {}).jobID
    lock = store.try_run_lock(job_id)
    for _ in range(3):
        lock.check()
        assert store.try_run_lock(job_id) is None and another(store).try_run_lock(job_id) is None
    lock.release()
    with pytest.raises(LockLost):
        lock.check()
    with store.try_run_lock(job_id) as again:  # free once released
        again.check()
