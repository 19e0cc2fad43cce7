"""What every job store shares: the job record (OGC statusInfo + results manifest), its
transitions, the run lock handle, safe result names and the retention choice."""

from __future__ import annotations

import builtins
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class LockLost(Exception):
    """The run lock went while its holder lived (the database server restarted) and another process
    holds it now: the holder abandons its attempt, which the record no longer belongs to."""


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


class RunLock:
    """Proof that this process runs a job (or probes it): `release()` it, or use it as a context
    manager. The system drops it when the holding process dies (flock, or a PostgreSQL session).

    `check()` verifies that it is still held, cheaply enough to call at every progress update: a
    flock cannot be lost while its holder lives (always held); a PostgreSQL lock goes with its
    session when the server restarts, and is then taken again or :class:`LockLost` raised."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    def check(self) -> None:
        if self._release is None:
            raise LockLost("the run lock was released")

    def release(self) -> None:
        if self._release is not None:
            release, self._release = self._release, None
            release()

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def new_record(process_id: str) -> JobRecord:
    now = _now()
    return JobRecord(jobID=uuid.uuid4().hex, processID=process_id, status="accepted",
                     message="accepted", created=now, updated=now)


def changed(rec: JobRecord, **fields: Any) -> JobRecord:
    """The record with these fields changed (validated) and `updated` now."""
    if "jobID" in fields:
        raise ValueError("jobID cannot change")
    return JobRecord.model_validate({**rec.model_dump(), **fields, "updated": _now()})


def dismissed(rec: JobRecord) -> JobRecord:
    return rec if rec.status == "dismissed" else changed(
        rec, status="dismissed", message="dismissed", results=None, finished=rec.finished or _now())


def succeeded(rec: JobRecord, manifest: dict[str, Any]) -> JobRecord:
    return changed(rec, status="successful", message="successful", progress=100, results=manifest, finished=_now())


def expired(rec: JobRecord) -> JobRecord:
    return changed(rec, results=None, expired=_now(), message="results expired")


def result_parts(name: object) -> tuple[str, ...]:
    """A result name as safe relative path parts (no '..', no hidden files); ResultNotFound if unsafe."""
    parts = PurePosixPath(name).parts if isinstance(name, str) else ()
    if not parts or not all(_NAME_RE.fullmatch(p) for p in parts):
        raise ResultNotFound(name)
    return parts


def check_id(job_id: object) -> str:
    if not isinstance(job_id, str) or not _ID_RE.fullmatch(job_id):
        raise JobNotFound(job_id)
    return job_id


def finished_before(rec: JobRecord, cutoff: datetime) -> bool:
    return _parse_time(rec.finished or rec.updated) < cutoff


def to_expire(finished: Iterable[JobRecord], sizes: dict[str, int], older_than: timedelta,
              max_bytes: int | None) -> builtins.list[JobRecord]:
    """Finished jobs whose results expire: older than the retention period, then the oldest while
    all results together (`sizes` per job id) use more than `max_bytes`."""
    cutoff = datetime.now(timezone.utc) - older_than
    total = sum(sizes.values())
    chosen = []
    for rec in sorted((r for r in finished if r.expired is None), key=lambda r: r.finished or r.updated):
        if finished_before(rec, cutoff) or (max_bytes is not None and total > max_bytes):
            chosen.append(rec)
            total -= sizes.get(rec.jobID, 0)
    return chosen


def _short_error(exc: BaseException, limit: int = 300) -> str:
    """'ClassName: message' on one line, truncated: safe to show to API clients."""
    text = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _as_set(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset([value] if isinstance(value, str) else value)


