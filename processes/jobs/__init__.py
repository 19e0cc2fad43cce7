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

from .runner import JobRunner, run_job
from .store import ACTIVE, FINAL, JobDismissed, JobNotFound, JobRecord, JobStore, ResultNotFound

__all__ = ["ACTIVE", "FINAL", "JobDismissed", "JobNotFound", "JobRecord", "JobRunner", "JobStore",
           "ResultNotFound", "run_job"]
