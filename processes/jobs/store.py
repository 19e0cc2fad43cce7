"""The on-disk job store: records, requests and results of OGC jobs, written atomically."""


from __future__ import annotations

import builtins
import fcntl
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .records import (FINAL, _ID_RE, JobNotFound, JobRecord, ResultNotFound, RunLock, _as_set, changed, check_id,
                      dismissed, expired, new_record, result_parts, succeeded)
from .retention import Retention

log = logging.getLogger(__name__)


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


class JobStore(Retention):
    """Job records on a (local, shared by all web workers) filesystem."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def job_dir(self, job_id: str) -> Path:
        return self.root / check_id(job_id)

    def lock_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "lock"

    def try_run_lock(self, job_id: str) -> RunLock | None:
        """The job's run lock if no other process (or open file) holds it; JobNotFound if purged."""
        fd = _try_flock(self.lock_path(job_id))
        return None if fd is None else RunLock(lambda: os.close(fd))

    def create(self, process_id: str, request: dict[str, Any]) -> JobRecord:
        """Persist request and record (status accepted) in one atomic directory rename."""
        rec = new_record(process_id)
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
        path = results.joinpath(*result_parts(name))
        if not path.resolve().is_relative_to(results.resolve()) or not path.is_file():
            raise ResultNotFound(name)
        return path

    def update(self, job_id: str, *, only_if: Iterable[str] | None = None, **fields: Any) -> JobRecord:
        """Atomically change fields; with only_if, only when the current status is one of those.

        Returns the record as stored afterwards (unchanged if only_if did not match), so a
        runner never overwrites a dismissal that happened while it worked.
        """
        allowed = _as_set(only_if)
        with self._locked(job_id) as d:
            rec = self._read(d)
            if allowed is not None and rec.status not in allowed:
                return rec
            return self._write(d, changed(rec, **fields))

    def dismiss(self, job_id: str) -> JobRecord:
        """OGC DELETE /jobs/{id}: status dismissed, results removed, record kept."""
        with self._locked(job_id) as d:
            rec = self._read(d)
            if rec.status != "dismissed":
                rec = self._write(d, dismissed(rec))
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

    # -- used by run_job in the worker process --------------------------------------

    def new_staging(self, job_id: str) -> Path:
        """A fresh, empty staging folder (only called under the job's run lock)."""
        staging = self.job_dir(job_id) / "staging"
        shutil.rmtree(staging, ignore_errors=True)  # leftovers of an interrupted attempt
        staging.mkdir()
        return staging

    def complete(self, job_id: str, staging: Path, manifest: dict[str, Any], lock: RunLock) -> JobRecord:
        """Publish staging as results/ and mark successful, unless dismissed meanwhile (`lock`, the
        run lock, is a flock: held as long as this process lives)."""
        with self._locked(job_id) as d:
            rec = self._read(d)
            if rec.status != "running":
                shutil.rmtree(staging, ignore_errors=True)
                return rec
            shutil.rmtree(d / "results", ignore_errors=True)  # half-published by a crash
            os.rename(staging, d / "results")
            _fsync_dir(d)
            return self._write(d, succeeded(rec, manifest))

    # -- retention primitives (see Retention) -------------------------------------

    def _delete(self, job_id: str) -> bool:
        try:
            with self._locked(job_id) as d:  # no update is half-way through
                trash = self._to_trash(d)
        except JobNotFound:  # purged by another web worker meanwhile
            return False
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        return trash is not None

    def _result_sizes(self, finished: builtins.list[JobRecord]) -> dict[str, int]:
        return {r.jobID: _tree_size(self.job_dir(r.jobID) / "results") for r in finished}

    def _expire_one(self, job_id: str) -> bool:
        try:
            with self._locked(job_id) as d:
                now = self._read(d)
                if now.status not in FINAL or now.expired is not None:
                    return False
                self._write(d, expired(now))
                trash = self._to_trash(d / "results")
        except JobNotFound:  # purged meanwhile
            return False
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        return True

    def _tidy(self) -> None:
        """Temp folders ('.new-', '.trash-') left by a crash, once surely no create() is in flight."""
        cutoff = datetime.now(timezone.utc) - timedelta(hours=1)
        for d in self.root.glob(".*-*"):
            if d.is_dir() and datetime.fromtimestamp(d.stat().st_mtime, timezone.utc) < cutoff:
                shutil.rmtree(d, ignore_errors=True)

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
    def _write(d: Path, new: JobRecord) -> JobRecord:
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
