"""Purge and expiry, the same for every job store, on four primitives each store implements."""

from __future__ import annotations

import builtins
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from .records import FINAL, JobNotFound, JobRecord, finished_before, to_expire

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable

    from .records import RunLock


class Retention:
    """`purge()` deletes old finished jobs, `expire()` removes old (or too many) results."""

    def purge(self, older_than: timedelta) -> builtins.list[str]:
        """Delete finished jobs older than the retention period (records and results)."""
        cutoff = datetime.now(timezone.utc) - older_than
        purged = []
        for rec in self.list(status=FINAL):
            if not finished_before(rec, cutoff):
                continue
            try:
                lock = self.try_run_lock(rec.jobID)
            except JobNotFound:  # purged by another web worker meanwhile
                continue
            if lock is None:  # a dismissed job whose worker is still winding down
                continue
            with lock:
                if self._delete(rec.jobID):
                    purged.append(rec.jobID)
        self._tidy()
        return purged

    def expire(self, older_than: timedelta, max_bytes: int | None = None) -> builtins.list[str]:
        """Remove the results of finished jobs older than the retention period, and of the oldest
        ones while all results together use more than `max_bytes`; records stay (marked expired)."""
        finished = [r for r in self.list(status=FINAL) if r.expired is None]
        sizes = self._result_sizes(finished)
        done = [r.jobID for r in to_expire(finished, sizes, older_than, max_bytes) if self._expire_one(r.jobID)]
        self._tidy()
        return done

    # -- what each store provides ---------------------------------------------------

    def list(self, limit: int | None = None, offset: int = 0, status: str | Iterable[str] | None = None,
             process_id: str | Iterable[str] | None = None) -> builtins.list[JobRecord]:
        raise NotImplementedError

    def try_run_lock(self, job_id: str) -> RunLock | None:
        raise NotImplementedError

    def _delete(self, job_id: str) -> bool:
        """Delete the job (under its run lock); False if it was gone already."""
        raise NotImplementedError

    def _result_sizes(self, finished: builtins.list[JobRecord]) -> dict[str, int]:
        """Bytes of published results per job id."""
        raise NotImplementedError

    def _expire_one(self, job_id: str) -> bool:
        """Mark the finished job expired and remove its results; False if not (any more) due."""
        raise NotImplementedError

    def _tidy(self) -> None:
        """Remove what crashes or other replicas left behind (called after purge and expire)."""
