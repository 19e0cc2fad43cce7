"""How much computing this web worker is doing now: for back-pressure (503) and fair accepting."""
from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Iterator

from .errors import Overloaded

_active: Counter[str] = Counter()
cancelled: Counter[str] = Counter()  # queued work dropped because its client went away


def active(what: str | None = None) -> int:
    """Computations running or queued now (of one kind, or all)."""
    return _active[what] if what else sum(_active.values())


def snapshot() -> dict[str, dict[str, int]]:
    return {"computing": dict(_active), "cancelled": dict(cancelled)}


@contextlib.contextmanager
def computing(limit: int, what: str = "tiles", retry_after: int = 1) -> Iterator[None]:
    """Count one computation for its duration; refuse with 503 past `limit` at once (never queue
    without bound). Called from the event loop thread only, so no lock is needed."""
    if _active[what] >= limit:
        raise Overloaded(f"too many {what} are being computed; retry shortly", {"Retry-After": str(retry_after)})
    _active[what] += 1
    try:
        yield
    finally:
        _active[what] -= 1


async def _disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(request, pool, fn, *args):
    """fn(*args) on the pool; None if the client went away first, and then the work is dropped
    from the pool's queue if it had not started (a running one finishes: threads cannot be stopped)."""
    work = pool.submit(fn, *args)
    watch = asyncio.ensure_future(_disconnect(request.receive))
    try:
        done, _ = await asyncio.wait({asyncio.wrap_future(work), watch}, return_when=asyncio.FIRST_COMPLETED)
        if watch in done and not work.done():
            if work.cancel():
                cancelled[fn.__name__] += 1
            return None
        return work.result()
    finally:
        watch.cancel()
