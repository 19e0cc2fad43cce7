"""OGC API - Processes job stores and the runner; jobs survive restarts.

Web workers (several gunicorn processes, each restartable at any time) only create,
read and submit jobs; the work runs in an :class:`~processes.engine.executor.Executor`.
Two stores with one interface (`open_job_store`):

- `JobStore` (the embedded default): everything a job needs lives on a disk every web worker
  shares, so any of them can serve or recover any job::

    root/{job_id}/job.json      status record (JobRecord), replaced atomically
    root/{job_id}/request.json  {"processID", "request"}: written before the 201
    root/{job_id}/lock          flock held by the process running the job for its whole run
    root/{job_id}/record.lock   flock held briefly around every read-modify-write of job.json
    root/{job_id}/staging/      where the current attempt writes; renamed to results/ on success
    root/{job_id}/results/      outputs of the successful attempt (never partial)

- `PgJobStore` (`postgresql://` DSN): records, requests and results in PostgreSQL, the run lock an
  advisory lock of the running process's session; replicas share no disk (see its module). A
  runner whose lock session the server ended (a restart) takes it again or abandons the run
  (`RunLock.check()`, `LockLost`).

A held run lock means "a live process runs this job" (the kernel or the database server drops
it when that process dies), so recovery resubmits exactly the jobs nobody is running.
"""

from pathlib import Path

from .pg import PgJobStore
from .records import ACTIVE, FINAL, JobDismissed, JobNotFound, JobRecord, LockLost, ResultNotFound, RunLock
from .runner import JobRunner, run_job
from .store import JobStore

AnyJobStore = JobStore | PgJobStore


def open_job_store(backend: str, root: Path) -> AnyJobStore:
    """'embedded': files under `root`; a postgresql:// DSN: the database (migrated here), with `root`
    this machine's staging folder and results cache."""
    if backend == "embedded":
        return JobStore(root)
    store = PgJobStore(backend, root)
    store.migrate()
    return store


__all__ = ["ACTIVE", "FINAL", "AnyJobStore", "JobDismissed", "JobNotFound", "JobRecord", "JobRunner", "JobStore",
           "LockLost", "PgJobStore", "ResultNotFound", "RunLock", "open_job_store", "run_job"]
