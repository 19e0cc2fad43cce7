"""How much computing this web worker is doing now: for back-pressure (503) and fair accepting."""
from __future__ import annotations

import contextlib
from typing import Iterator

from .errors import Overloaded

_active = 0


def active() -> int:
    return _active


@contextlib.contextmanager
def computing(limit: int) -> Iterator[None]:
    """Count one computation for its duration; refuse with 503 past `limit` at once.

    Called from the event loop thread only (around `run_in_threadpool`), so no lock is needed.
    """
    global _active
    if _active >= limit:
        raise Overloaded("too many tiles are being computed; retry shortly", {"Retry-After": "1"})
    _active += 1
    try:
        yield
    finally:
        _active -= 1
