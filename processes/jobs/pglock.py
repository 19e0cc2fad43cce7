"""The PostgreSQL job store's run lock: a session-level advisory lock on a connection of its own.

The server drops the lock with its session, which is what lets recovery resume exactly the jobs
nobody runs. But the session also ends while its runner lives when the server itself restarts (or
an administrator terminates it), and then another replica's recovery may take the lock and run the
job too. `check()` notices, cheaply: an idle lock session receives nothing unless the server ends
it, so one non-blocking poll of its socket (no round trip) tells "quiet, still held" from "look
closer". A session that still answers still holds the lock (only its own session can release a
session-level advisory lock); a broken one is replaced by a new session that tries the lock again,
waiting out a restart for up to RECONNECT_WINDOW seconds. If another session took it meanwhile,
:class:`LockLost`: the runner abandons its attempt.

Results are published on the lock session itself, in a transaction that also checks in `pg_locks`
that this session holds the lock (`holds`): only the holder ever publishes.
"""
from __future__ import annotations

import logging
import select
import time

import psycopg

from ..database import LOCK_CLASS
from .records import JobNotFound, LockLost, RunLock

log = logging.getLogger(__name__)

# Lock sessions sit idle for a whole job: server-side keepalives notice a vanished client host
# within ~1 min (a killed process closes its socket at once); the client's own keepalives make a
# vanished server show up on the socket (and so in check()) as soon.
LOCK_OPTIONS = "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3"
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}
RECONNECT_WINDOW, RECONNECT_SLEEP = 60.0, 0.2  # seconds: a restart of the server, not an outage

_TAKE = "SELECT pg_try_advisory_lock(%s, lock_key) FROM geodeferred_jobs WHERE job_id = %s"
_HOLDS = ("SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN geodeferred_jobs j ON l.objid = j.lock_key::oid "
          "WHERE j.job_id = %s AND l.locktype = 'advisory' AND l.classid = %s::oid AND l.objsubid = 2 "
          "AND l.granted AND l.pid = pg_backend_pid() "
          "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))")


def holds(conn: psycopg.Connection, job_id: str) -> bool:
    """Whether the session of `conn` holds the job's run lock now."""
    return conn.execute(_HOLDS, (job_id, LOCK_CLASS)).fetchone()[0]


class PgRunLock(RunLock):
    """The job's advisory lock and the session holding it (`conn`, replaced when re-taken)."""

    def __init__(self, dsn: str, job_id: str, conn: psycopg.Connection) -> None:
        super().__init__(self._close)
        self.dsn, self.job_id, self.conn = dsn, job_id, conn
        self._lost = False

    @classmethod
    def try_take(cls, dsn: str, job_id: str) -> PgRunLock | None:
        """The lock on a new session, None if another session holds it; JobNotFound if no such job."""
        conn = _connect(dsn)
        got = _take(conn, job_id)
        if got is None:
            raise JobNotFound(job_id)
        return cls(dsn, job_id, conn) if got else None

    def check(self) -> None:
        """Return if this process still holds the lock (taking it again on a new session if the old
        one broke); LockLost if another session holds it now (or the job was purged meanwhile)."""
        super().check()
        if self._lost:
            raise LockLost(f"job {self.job_id}: run lock lost")
        if _quiet(self.conn):
            return
        try:
            self.conn.execute("SELECT 1")  # data arrived: a notice, or the end of the session
            return
        except psycopg.OperationalError as exc:
            log.warning("job %s: the session holding its run lock broke (%s); taking the lock again",
                        self.job_id, " ".join(str(exc).split()))
        self.conn.close()
        conn = self._reconnect()
        if not _take(conn, self.job_id):  # held by another session, or the job is gone
            self._lost = True
            raise LockLost(f"job {self.job_id}: another process took its run lock while its session was down")
        self.conn = conn
        log.warning("job %s: run lock taken again on a new session", self.job_id)

    def _reconnect(self) -> psycopg.Connection:
        deadline = time.monotonic() + RECONNECT_WINDOW
        while True:
            try:
                return _connect(self.dsn)
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(RECONNECT_SLEEP)

    def _close(self) -> None:
        self.conn.close()  # ending the session releases the lock


def _connect(dsn: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True, options=LOCK_OPTIONS, **KEEPALIVES)


def _take(conn: psycopg.Connection, job_id: str) -> bool | None:
    """pg_try_advisory_lock on `conn`; None if there is no such job. Closes `conn` unless taken."""
    try:
        row = conn.execute(_TAKE, (LOCK_CLASS, job_id)).fetchone()
    except BaseException:
        conn.close()
        raise
    got = None if row is None else bool(row[0])
    if not got:
        conn.close()
    return got


def _quiet(conn: psycopg.Connection) -> bool:
    """True if nothing arrived on the idle session (one poll, no round trip)."""
    if conn.closed or conn.broken:
        return False
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return not poller.poll(0)
