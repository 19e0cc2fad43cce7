"""The job runner over both stores: runs in a pool or on dask, failures, dismissal of a running
job, restart recovery, at most one run at a time, killed workers and runners, progress."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from processes.engine.executor import Executor, make_executor
from processes.jobs import JobRunner, JobStore, ResultNotFound

from .util import ROOT, W, crashed_running, raw_record, recover_at_once, wait_file, wait_status


RUN_ONE = ("import sys; from processes.jobs import open_job_store, run_job; "
           "print(run_job(open_job_store(sys.argv[1], sys.argv[2]), sys.argv[3], sys.argv[4]))")


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
    assert not list((store.root / job_id).glob("staging*"))


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
    assert not (store.root / job_id / "results").exists() and not list((store.root / job_id).glob("staging*"))


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
