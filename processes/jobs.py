"""On-disk OGC API - Processes job store and runner that survive restarts.

Web workers (several gunicorn processes, each restartable at any time) only create,
read and submit jobs; the work runs in an :class:`~processes.engine.executor.Executor`.
Everything a job needs lives on disk, so any web worker can serve or recover any job::

    root/{job_id}/job.json      status record (JobRecord), replaced atomically
    root/{job_id}/request.json  {"processID", "request"}: written before the 201
    root/{job_id}/lock          flock held by the process running the job for its whole run
    root/{job_id}/record.lock   flock held briefly around every read-modify-write of job.json
    root/{job_id}/staging/      where the current attempt writes; renamed to results/ on success
    root/{job_id}/results/      outputs of the successful attempt (never partial)

A held ``lock`` means "a live process runs this job" (the kernel drops it when that
process dies), so recovery resubmits exactly the jobs nobody is running.
"""

from __future__ import annotations

import builtins
import fcntl
import functools
import importlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Future
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # pragma: no cover
    from processes.engine.executor import Executor

log = logging.getLogger(__name__)

Status = Literal["accepted", "running", "successful", "failed", "dismissed"]
ACTIVE: frozenset[str] = frozenset({"accepted", "running"})
FINAL: frozenset[str] = frozenset({"successful", "failed", "dismissed"})
_ID_RE = re.compile(r"[0-9a-f]{32}")
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")  # no leading dot: no '..', no hidden files
_WORK_RE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
_LOCK_RETRIES, _LOCK_RETRY_SLEEP = 20, 0.05  # ride out a recover() probe holding the lock briefly


class JobNotFound(LookupError):
    """No such job (also for ids that are not 32 lowercase hex digits)."""


class ResultNotFound(LookupError):
    """No such result file for this job (or an unsafe name)."""


class JobDismissed(Exception):
    """Raised inside work by the progress callback once the job was dismissed: stops it early."""


class JobRecord(BaseModel):
    """OGC statusInfo fields plus the results manifest, a short error and the attempt count."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    jobID: str
    processID: str
    type: Literal["process"] = "process"
    status: Status
    message: str = ""
    created: str
    started: str | None = None
    finished: str | None = None
    updated: str
    progress: int = Field(default=0, ge=0, le=100)
    results: dict[str, Any] | None = None
    error: str | None = None
    attempts: int = Field(default=0, ge=0)

    def status_info(self) -> dict[str, Any]:
        """The OGC statusInfo document (links are added by the web layer)."""
        keys = ("processID", "type", "jobID", "status", "message", "created", "started", "finished", "updated", "progress")
        return {k: v for k in keys if (v := getattr(self, k)) is not None}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    """Readers see the old or the new file, never a torn one, even after a crash."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _try_flock(path: Path) -> int | None:
    """Exclusive non-blocking flock; returns the fd (close it to release) or None if held."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except FileNotFoundError:  # the job folder is gone (purged)
        raise JobNotFound(path.parent.name) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _short_error(exc: BaseException, limit: int = 300) -> str:
    """'ClassName: message' on one line, truncated: safe to show to API clients."""
    text = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


class JobStore:
    """Job records on a (local, shared by all web workers) filesystem."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def job_dir(self, job_id: str) -> Path:
        if not isinstance(job_id, str) or not _ID_RE.fullmatch(job_id):
            raise JobNotFound(job_id)
        return self.root / job_id

    def lock_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "lock"

    def create(self, process_id: str, request: dict[str, Any]) -> JobRecord:
        """Persist request and record (status accepted) in one atomic directory rename."""
        now = _now()
        rec = JobRecord(jobID=uuid.uuid4().hex, processID=process_id, status="accepted",
                        message="accepted", created=now, updated=now)
        tmp = Path(tempfile.mkdtemp(prefix=".new-", dir=self.root))
        try:
            body = {"processID": process_id, "request": request}
            _atomic_write(tmp / "request.json", json.dumps(body).encode())
            _atomic_write(tmp / "job.json", rec.model_dump_json().encode())
            os.rename(tmp, self.root / rec.jobID)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _fsync_dir(self.root)
        return rec

    def get(self, job_id: str) -> JobRecord:
        return self._read(self.job_dir(job_id))

    def request(self, job_id: str) -> dict[str, Any]:
        try:
            body = json.loads((self.job_dir(job_id) / "request.json").read_bytes())
        except FileNotFoundError:
            raise JobNotFound(job_id) from None
        return body["request"]

    def result_path(self, job_id: str, name: str) -> Path:
        """Path of an existing result file; names are validated, nothing outside results/."""
        results = self.job_dir(job_id) / "results"
        self.get(job_id)
        parts = PurePosixPath(name).parts if isinstance(name, str) else ()
        if not parts or not all(_NAME_RE.fullmatch(p) for p in parts):
            raise ResultNotFound(name)
        path = results.joinpath(*parts)
        if not path.resolve().is_relative_to(results.resolve()) or not path.is_file():
            raise ResultNotFound(name)
        return path

    def update(self, job_id: str, *, only_if: Iterable[str] | None = None, **fields: Any) -> JobRecord:
        """Atomically change fields; with only_if, only when the current status is one of those.

        Returns the record as stored afterwards (unchanged if only_if did not match), so a
        runner never overwrites a dismissal that happened while it worked.
        """
        if "jobID" in fields:
            raise ValueError("jobID cannot change")
        allowed = _as_set(only_if)
        with self._locked(job_id) as d:
            rec = self._read(d)
            if allowed is not None and rec.status not in allowed:
                return rec
            return self._write(d, rec, **fields)

    def dismiss(self, job_id: str) -> JobRecord:
        """OGC DELETE /jobs/{id}: status dismissed, results removed, record kept."""
        with self._locked(job_id) as d:
            rec = self._read(d)
            if rec.status != "dismissed":
                rec = self._write(d, rec, status="dismissed", message="dismissed", results=None,
                                  finished=rec.finished or _now())
            trash = [self._to_trash(d / name) for name in ("results", "staging")]
        for t in filter(None, trash):  # slow deletes outside the record lock
            shutil.rmtree(t, ignore_errors=True)
        return rec

    def list(self, limit: int | None = None, offset: int = 0, status: str | Iterable[str] | None = None,
             process_id: str | Iterable[str] | None = None) -> builtins.list[JobRecord]:
        """Jobs newest first, optionally filtered by status/process id, then paged."""
        statuses, processes = _as_set(status), _as_set(process_id)
        records = []
        for d in self.root.iterdir():
            if not _ID_RE.fullmatch(d.name):
                continue
            try:
                rec = self._read(d)
            except JobNotFound:  # purged meanwhile
                continue
            if (statuses is None or rec.status in statuses) and (processes is None or rec.processID in processes):
                records.append(rec)
        records.sort(key=lambda r: (r.created, r.jobID), reverse=True)
        return records[offset: None if limit is None else offset + limit]

    def purge(self, older_than: timedelta) -> builtins.list[str]:
        """Delete finished jobs (and stale temp folders) older than the retention period."""
        cutoff = datetime.now(timezone.utc) - older_than
        purged = []
        for rec in self.list(status=FINAL):
            if _parse_time(rec.finished or rec.updated) >= cutoff:
                continue
            fd = _try_flock(self.lock_path(rec.jobID))
            if fd is None:  # a dismissed job whose worker is still winding down
                continue
            try:
                with self._locked(rec.jobID) as d:  # no update is half-way through
                    trash = self._to_trash(d)
            except JobNotFound:  # purged by another web worker meanwhile
                trash = None
            finally:
                os.close(fd)
            if trash is not None:
                shutil.rmtree(trash, ignore_errors=True)
                purged.append(rec.jobID)
        tmp_cutoff = min(cutoff, datetime.now(timezone.utc) - timedelta(hours=1))  # not a create() in flight
        for d in self.root.glob(".*-*"):  # '.new-' / '.trash-' left by a crash
            if d.is_dir() and datetime.fromtimestamp(d.stat().st_mtime, timezone.utc) < tmp_cutoff:
                shutil.rmtree(d, ignore_errors=True)
        return purged

    # -- used by run_job in the worker process --------------------------------------

    def new_staging(self, job_id: str) -> Path:
        """A fresh, empty staging folder (only called under the job's run lock)."""
        staging = self.job_dir(job_id) / "staging"
        shutil.rmtree(staging, ignore_errors=True)  # leftovers of an interrupted attempt
        staging.mkdir()
        return staging

    def complete(self, job_id: str, staging: Path, manifest: dict[str, Any]) -> JobRecord:
        """Publish staging as results/ and mark successful, unless dismissed meanwhile."""
        with self._locked(job_id) as d:
            rec = self._read(d)
            if rec.status != "running":
                shutil.rmtree(staging, ignore_errors=True)
                return rec
            shutil.rmtree(d / "results", ignore_errors=True)  # half-published by a crash
            os.rename(staging, d / "results")
            _fsync_dir(d)
            return self._write(d, rec, status="successful", message="successful", progress=100,
                               results=manifest, finished=_now())

    # -- internals ----------------------------------------------------------------

    @contextmanager
    def _locked(self, job_id: str) -> Iterator[Path]:
        d = self.job_dir(job_id)
        try:
            fd = os.open(d / "record.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            raise JobNotFound(job_id) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield d
        finally:
            os.close(fd)

    @staticmethod
    def _read(d: Path) -> JobRecord:
        try:
            return JobRecord.model_validate_json((d / "job.json").read_bytes())
        except FileNotFoundError:
            raise JobNotFound(d.name) from None

    @staticmethod
    def _write(d: Path, rec: JobRecord, **fields: Any) -> JobRecord:
        new = JobRecord.model_validate({**rec.model_dump(), **fields, "updated": _now()})
        _atomic_write(d / "job.json", new.model_dump_json().encode())
        return new

    def _to_trash(self, path: Path) -> Path | None:
        """Move aside atomically (fast, under locks); the caller deletes it later."""
        trash = self.root / f".trash-{uuid.uuid4().hex}"
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return None
        return trash


def _as_set(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset([value] if isinstance(value, str) else value)


# -- runner -----------------------------------------------------------------------

WorkFn = Callable[[str, dict[str, Any], Path, Callable[[int, str], None]], dict[str, Any]]


def _load_work(work: str) -> WorkFn:
    module, _, name = work.partition(":")
    return getattr(importlib.import_module(module), name)


class _Progress:
    """Progress callback given to work: throttled record updates, cooperative dismissal."""

    def __init__(self, store: JobStore, job_id: str, interval: float = 0.5) -> None:
        self.store, self.job_id, self.interval = store, job_id, interval
        self._last = float("-inf")

    def __call__(self, percent: int, message: str = "") -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        pct = max(0, min(100, int(percent)))
        rec = self.store.update(self.job_id, only_if={"running"}, progress=pct, message=message or "running")
        if rec.status != "running":
            raise JobDismissed(self.job_id)


def run_job(store_root: str, job_id: str, work: str) -> str:
    """Executor entry point (module-level, picklable): run one job at most once at a time.

    Returns the job status it left behind, "busy" if another live process runs it,
    or "missing" if the job was purged.
    """
    store = JobStore(store_root)
    try:
        fd = _acquire(store.lock_path(job_id))
    except JobNotFound:
        return "missing"
    if fd is None:
        return "busy"
    try:
        return _run_locked(store, job_id, work)
    finally:
        os.close(fd)  # also released by the kernel if this process dies


def _acquire(lock: Path) -> int | None:
    """The run lock, retried briefly: a recover() probe holds it only for milliseconds,
    a live runner holds it for the whole run."""
    for _ in range(_LOCK_RETRIES):
        fd = _try_flock(lock)
        if fd is not None:
            return fd
        time.sleep(_LOCK_RETRY_SLEEP)
    return None


def _run_locked(store: JobStore, job_id: str, work: str) -> str:
    rec = store.get(job_id)
    if rec.status in FINAL:
        return rec.status
    rec = store.update(job_id, only_if=ACTIVE, status="running", message="running", progress=0,
                       started=rec.started or _now(), attempts=rec.attempts + 1)
    if rec.status != "running":
        return rec.status
    staging = store.new_staging(job_id)
    try:
        manifest = _load_work(work)(rec.processID, store.request(job_id), staging, _Progress(store, job_id))
        if not isinstance(manifest, dict):
            raise TypeError(f"work returned {type(manifest).__name__}, expected a dict manifest")
        manifest = json.loads(json.dumps(manifest))  # fail here, not when writing the record
    except JobDismissed:
        shutil.rmtree(staging, ignore_errors=True)
        return "dismissed"
    except Exception as exc:
        log.exception("job %s (%s) failed", job_id, rec.processID)  # traceback to logs only
        shutil.rmtree(staging, ignore_errors=True)
        return store.update(job_id, only_if={"running"}, status="failed", message="failed",
                            error=_short_error(exc), finished=_now()).status
    return store.complete(job_id, staging, manifest).status


class JobRunner:
    """Submits jobs to an executor and resubmits the ones whose runner died.

    ``work`` is "module:function" naming a module-level
    ``work(process_id, request, results_dir, progress) -> manifest`` importable in the workers.
    """

    def __init__(self, store: JobStore, executor: Executor, work: str, *, max_attempts: int = 3,
                 auto_recover: bool = True, recover_delay: float = 1.0) -> None:
        if not _WORK_RE.fullmatch(work):
            raise ValueError(f"work must be 'module:function', got {work!r}")
        self.store, self.executor, self.work = store, executor, work
        self.max_attempts, self.auto_recover, self.recover_delay = max_attempts, auto_recover, recover_delay
        self._losses: dict[str, int] = {}  # executor failures per job, in this web worker

    def start(self, job_id: str) -> Future[str]:
        """Queue the job in the executor; returns at once with the executor's future."""
        self.store.get(job_id)  # JobNotFound early, in the caller
        fut = self.executor.submit(run_job, str(self.store.root), job_id, self.work)
        fut.add_done_callback(functools.partial(self._on_done, job_id))
        return fut

    def recover(self) -> builtins.list[str]:
        """Resubmit accepted/running jobs nobody runs (call at service start); returns their ids."""
        return [rec.jobID for rec in self.store.list(status=ACTIVE) if self.recover_job(rec.jobID)]

    def recover_job(self, job_id: str) -> bool:
        """Resubmit one job if no live process holds its lock; give up after max_attempts."""
        try:
            fd = _try_flock(self.store.lock_path(job_id))
        except JobNotFound:
            return False  # purged meanwhile
        if fd is None:
            return False  # a live process runs it
        try:  # while we hold the lock no runner can start, so the checks below are stable
            rec = self.store.get(job_id)
            if rec.status in FINAL:
                return False
            if rec.attempts >= self.max_attempts:
                msg = "interrupted too many times"
                self.store.update(job_id, only_if=ACTIVE, status="failed", message=msg,
                                  error=f"{msg} ({rec.attempts} attempts)", finished=_now())
                log.error("job %s failed: %s", job_id, msg)
                return False
        finally:
            os.close(fd)
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
