"""Periodic upkeep of every web worker: resume jobs whose runner died, expire what the retention
policy says (job results by age and by total disk, stored workflow results by age), and delete
job records long after their results expired. Safe to run in every worker at once."""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from .services import Services

log = logging.getLogger("geodeferred")
RECORD_LIFE = 10  # records of finished jobs are deleted this many retention periods after they finish


def run_once(s: Services) -> None:
    keep = timedelta(hours=s.settings.retention_hours)
    resumed = s.runner.recover()
    expired = s.jobs.expire(keep, s.settings.max_results_mb << 20)
    purged = s.jobs.purge(keep * RECORD_LIFE)
    graphs = s.graphs.expire()
    if resumed or expired or purged or graphs:
        log.info("housekeeping: %d job(s) resumed, %d result(s) expired, %d record(s) deleted, %d workflow result(s) expired",
                 len(resumed), len(expired), len(purged), len(graphs))


def start(s: Services) -> threading.Event:
    """run_once every `housekeeping_interval` seconds in a daemon thread; set the event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(s.settings.housekeeping_interval):
            try:
                run_once(s)
            except Exception:
                log.exception("housekeeping failed")

    threading.Thread(target=loop, name="housekeeping", daemon=True).start()
    return stop
