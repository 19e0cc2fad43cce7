"""The on-disk job store: records, requests and results of OGC jobs, written atomically."""


from __future__ import annotations

import builtins
import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)

Status = Literal["accepted", "running", "successful", "failed", "dismissed"]
ACTIVE: frozenset[str] = frozenset({"accepted", "running"})
FINAL: frozenset[str] = frozenset({"successful", "failed", "dismissed"})
_ID_RE = re.compile(r"[0-9a-f]{32}")
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")  # no leading dot: no '..', no hidden files
_WORK_RE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


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
    expired: str | None = None  # when its results were removed by the retention policy

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

    def expire(self, older_than: timedelta, max_bytes: int | None = None) -> builtins.list[str]:
        """Remove the results of finished jobs older than the retention period, and of the oldest
        ones while all results together use more than `max_bytes`; records stay (marked expired)."""
        cutoff = datetime.now(timezone.utc) - older_than
        finished = sorted((r for r in self.list(status=FINAL) if r.expired is None),
                          key=lambda r: r.finished or r.updated)
        sizes = {r.jobID: _tree_size(self.job_dir(r.jobID) / "results") for r in finished}
        total = sum(sizes.values())
        expired = []
        for rec in finished:
            if _parse_time(rec.finished or rec.updated) >= cutoff and (max_bytes is None or total <= max_bytes):
                continue
            try:
                with self._locked(rec.jobID) as d:
                    now = self._read(d)
                    if now.status not in FINAL or now.expired is not None:
                        continue
                    self._write(d, now, results=None, expired=_now(), message="results expired")
                    trash = self._to_trash(d / "results")
            except JobNotFound:  # purged meanwhile
                continue
            if trash is not None:
                shutil.rmtree(trash, ignore_errors=True)
            total -= sizes[rec.jobID]
            expired.append(rec.jobID)
        return expired

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


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def _as_set(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset([value] if isinstance(value, str) else value)


