"""Running jobs, once at a time per job, and recovering the ones whose runner died.

Two ways to run a job's work function:
- in the executor (the default): the whole job is one task of the pool or cluster;
- coordinated (`coordinators=N`): the job runs in one of N coordinator threads of this process,
  holding the job's run lock, and its work fans its parts out as separate tasks of the executor
  (it gets the executor as a fifth argument). A job never waits on tasks of the pool it runs in
  (which deadlocks a process pool), and one job spreads over every worker of a dask cluster.
  If this process dies, its run locks go with it and recovery resumes the job elsewhere.

A run checks that it still holds its lock at every progress update and before it publishes
(`RunLock.check()`: no database round trip while the lock session is healthy). A PostgreSQL lock
whose session broke (the server restarted) is taken again; if another replica's recovery took it
first, the run is abandoned at once: its staged files go, the record (now the new holder's) is
left alone, and the run returns "abandoned".
"""

from __future__ import annotations

import builtins
import functools
import importlib
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .records import ACTIVE, FINAL, _WORK_RE, JobDismissed, JobNotFound, LockLost, RunLock, _now, _short_error

if TYPE_CHECKING:  # pragma: no cover
    from processes.engine.executor import Executor

    from . import AnyJobStore as JobStore

log = logging.getLogger(__name__)
_LOCK_RETRIES, _LOCK_RETRY_SLEEP = 20, 0.05  # ride out a recover() probe holding the lock briefly


WorkFn = Callable[..., dict[str, Any]]  # (process_id, request, results_dir, progress[, executor]) -> manifest


def _load_work(work: str) -> WorkFn:
    module, _, name = work.partition(":")
    return getattr(importlib.import_module(module), name)


class _Progress:
    """Progress callback given to work: throttled record updates, cooperative dismissal, and the
    run lock checked on every call (cheap; LockLost stops the work like a dismissal does). A
    progress write that fails (the database restarting) is skipped once the lock checks out.

    At most one update per `interval`, except the first measured progress (above 0 %), which is
    always written: a short job still shows that it moved before it ends."""

    def __init__(self, store: JobStore, job_id: str, interval: float = 0.5, lock: RunLock | None = None) -> None:
        self.store, self.job_id, self.interval, self.lock = store, job_id, interval, lock
        self._last = float("-inf")
        self._moved = False

    def __call__(self, percent: int, message: str = "") -> None:
        if self.lock is not None:
            self.lock.check()
        now = time.monotonic()
        pct = max(0, min(100, int(percent)))
        first_move = pct > 0 and not self._moved
        if now - self._last < self.interval and not first_move:
            return
        self._last, self._moved = now, self._moved or pct > 0
        try:
            rec = self.store.update(self.job_id, only_if={"running"}, progress=pct, message=message or "running")
        except Exception:
            if self.lock is None:
                raise
            # e.g. the database went away mid-write: progress can wait, the lock cannot
            log.warning("job %s: progress not recorded", self.job_id, exc_info=True)
            self.lock.check()
            return
        if rec.status != "running":
            raise JobDismissed(self.job_id)


def run_job(store: JobStore, job_id: str, work: str, executor: Executor | None = None,
            stopping: threading.Event | None = None) -> str:
    """Executor entry point (module-level; the store pickles as its location): run one job at most
    once at a time. With an executor (coordinated jobs), the work gets it to fan its parts out.

    Returns the job status it left behind, "busy" if another live process runs it,
    or "missing" if the job was purged.
    """
    try:
        lock = _acquire(store, job_id)
    except JobNotFound:
        return "missing"
    if lock is None:
        return "busy"
    with lock:  # also released by the system if this process dies
        return _run_locked(store, job_id, work, executor, stopping, lock)


def _acquire(store: JobStore, job_id: str) -> RunLock | None:
    """The run lock, retried briefly: a recover() probe holds it only for milliseconds,
    a live runner holds it for the whole run."""
    for _ in range(_LOCK_RETRIES):
        lock = store.try_run_lock(job_id)
        if lock is not None:
            return lock
        time.sleep(_LOCK_RETRY_SLEEP)
    return None


def _run_locked(store: JobStore, job_id: str, work: str, executor: Executor | None,
                stopping: threading.Event | None, lock: RunLock) -> str:
    rec = store.get(job_id)
    if rec.status in FINAL:
        return rec.status
    rec = store.update(job_id, only_if=ACTIVE, status="running", message="running", progress=0,
                       started=rec.started or _now(), attempts=rec.attempts + 1)
    if rec.status != "running":
        return rec.status
    staging = store.new_staging(job_id)
    try:
        return _attempt(store, rec.processID, job_id, work, executor, stopping, lock, staging)
    except LockLost as exc:
        log.warning("job %s: attempt %d abandoned: %s", job_id, rec.attempts, exc)
        return "abandoned"
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already once published


def _attempt(store: JobStore, process_id: str, job_id: str, work: str, executor: Executor | None,
             stopping: threading.Event | None, lock: RunLock, staging: Path) -> str:
    """Run the work into staging and publish it; LockLost once another process holds the lock."""
    try:
        args = (process_id, store.request(job_id), staging, _Progress(store, job_id, lock=lock))
        manifest = _load_work(work)(*args, *((executor,) if executor is not None else ()))
        if not isinstance(manifest, dict):
            raise TypeError(f"work returned {type(manifest).__name__}, expected a dict manifest")
        manifest = json.loads(json.dumps(manifest))  # fail here, not when writing the record
    except LockLost:
        raise
    except JobDismissed:
        return "dismissed"
    except Exception as exc:
        if stopping is not None and stopping.is_set():  # the service stops: not the job's fault
            log.warning("job %s interrupted by shutdown; the next recovery resumes it", job_id)
            return "interrupted"
        lock.check()  # an error from losing the database (and the lock): not the job's to fail
        log.exception("job %s (%s) failed", job_id, process_id)  # traceback to logs only
        return store.update(job_id, only_if={"running"}, status="failed", message="failed",
                            error=_short_error(exc), finished=_now()).status
    lock.check()
    return store.complete(job_id, staging, manifest, lock).status


class JobRunner:
    """Submits jobs to an executor and resubmits the ones whose runner died.

    ``work`` is "module:function" naming a module-level
    ``work(process_id, request, results_dir, progress) -> manifest`` importable in the workers,
    or with ``coordinators=N`` ``work(process_id, request, results_dir, progress, executor)``
    run in one of N threads of this process (see the module docstring).
    """

    def __init__(self, store: JobStore, executor: Executor, work: str, *, max_attempts: int = 3,
                 auto_recover: bool = True, recover_delay: float = 1.0, coordinators: int | None = None) -> None:
        if not _WORK_RE.fullmatch(work):
            raise ValueError(f"work must be 'module:function', got {work!r}")
        self.store, self.executor, self.work = store, executor, work
        self._threads = ThreadPoolExecutor(coordinators, thread_name_prefix="job") if coordinators else None
        self._stopping = threading.Event()
        self.max_attempts, self.auto_recover, self.recover_delay = max_attempts, auto_recover, recover_delay
        self._losses: dict[str, int] = {}  # executor failures per job, in this web worker

    def start(self, job_id: str) -> Future[str]:
        """Queue the job in the executor; returns at once with the executor's future."""
        self.store.get(job_id)  # JobNotFound early, in the caller
        if self._threads is not None:
            fut = self._threads.submit(run_job, self.store, job_id, self.work, self.executor, self._stopping)
        else:
            fut = self.executor.submit(run_job, self.store, job_id, self.work)
        fut.add_done_callback(functools.partial(self._on_done, job_id))
        return fut

    def shutdown(self) -> None:
        """Stop the coordinator threads (call before shutting the executor down): queued jobs stay
        accepted, running ones stay running, and the next recover() resumes them."""
        self._stopping.set()
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)

    def recover(self) -> builtins.list[str]:
        """Resubmit accepted/running jobs nobody runs (call at service start); returns their ids."""
        return [rec.jobID for rec in self.store.list(status=ACTIVE) if self.recover_job(rec.jobID)]

    def recover_job(self, job_id: str) -> bool:
        """Resubmit one job if no live process holds its lock; give up after max_attempts."""
        try:
            lock = self.store.try_run_lock(job_id)
        except JobNotFound:
            return False  # purged meanwhile
        if lock is None:
            return False  # a live process runs it
        with lock:  # while we hold the lock no runner can start, so the checks below are stable
            rec = self.store.get(job_id)
            if rec.status in FINAL:
                return False
            if rec.attempts >= self.max_attempts:
                msg = "interrupted too many times"
                self.store.update(job_id, only_if=ACTIVE, status="failed", message=msg,
                                  error=f"{msg} ({rec.attempts} attempts)", finished=_now())
                log.error("job %s failed: %s", job_id, msg)
                return False
        self.start(job_id)
        return True

    def recover_every(self, interval: float) -> threading.Event:
        """recover() every interval seconds in a daemon thread; set the returned event to stop.

        Catches runners that died outside this web worker's own pool (another web worker's
        orphaned pool process, a dask worker), which no future of ours reports.
        """
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.recover()
                except Exception:
                    log.exception("periodic job recovery failed")

        threading.Thread(target=loop, name="job-recovery", daemon=True).start()
        return stop

    def _on_done(self, job_id: str, fut: Future[str]) -> None:
        """run_job handles work errors itself; an exception here means the executor lost it
        (worker killed, pool broken): recover it shortly, once dying siblings let go of their locks."""
        if fut.cancelled() or not self.auto_recover:
            return
        exc = fut.exception()
        if exc is None or isinstance(exc, CancelledError):  # shutdown: next recover() resumes it
            return
        losses = self._losses[job_id] = self._losses.get(job_id, 0) + 1
        if losses > self.max_attempts:  # e.g. run_job itself keeps failing: stop looping
            log.error("job %s: executor keeps failing (%r); left for the next recover()", job_id, exc)
            return
        log.warning("job %s: executor failure %r; recovering in %.1fs", job_id, exc, self.recover_delay)
        timer = threading.Timer(self.recover_delay, self._recover_quietly, args=(job_id,))
        timer.daemon = True
        timer.start()

    def _recover_quietly(self, job_id: str) -> None:
        try:
            self.recover_job(job_id)
        except Exception:  # e.g. executor shut down meanwhile; the next recover() picks it up
            log.exception("job %s: automatic recovery failed", job_id)
