"""Fixtures of the job tests: each store test runs against both stores (files; a real PostgreSQL
on loopback, see tests/conftest.py `jobs_backend`)."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from processes.engine.executor import Executor, make_executor
from processes.jobs import AnyJobStore, JobStore, PgJobStore, open_job_store


@pytest.fixture(scope="module")
def pool() -> Iterator[Executor]:
    ex = make_executor("process:2")
    yield ex
    ex.shutdown()


@pytest.fixture
def store(jobs_backend: str, tmp_path: Path) -> AnyJobStore:
    return open_job_store(jobs_backend, tmp_path / "jobs")


@pytest.fixture
def another(tmp_path: Path) -> Callable[[AnyJobStore], AnyJobStore]:
    """The same store seen from another process (a restarted web worker; for PostgreSQL another
    machine: a local folder of its own)."""
    def make(store: AnyJobStore) -> AnyJobStore:
        if isinstance(store, JobStore):
            return JobStore(store.root)
        return PgJobStore(store.dsn, tmp_path / f"machine-{time.monotonic_ns()}")
    return make
