"""How much computing this web worker is doing now: for back-pressure (503) and fair accepting."""
from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import functools
import threading
from collections import Counter
from typing import Iterator

from starlette.concurrency import run_in_threadpool

from processes.engine import cancel

from .errors import Overloaded

_active: Counter[str] = Counter()
cancelled: Counter[str] = Counter()  # queued work dropped because its client went away
stopped: Counter[str] = Counter()  # running work stopped at a checkpoint because its client went away
_lock = threading.Lock()
_background: set[asyncio.Future] = set()  # tasks running work for a request that may be gone


def active(what: str | None = None) -> int:
    """Computations running or queued now (of one kind, or all)."""
    return _active[what] if what else sum(_active.values())


def snapshot() -> dict[str, dict[str, int]]:
    return {"computing": dict(_active), "cancelled": dict(cancelled), "stopped": dict(stopped)}


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


def _count_stopped(name: str, work: cf.Future) -> None:
    if not work.cancelled() and isinstance(work.exception(), cancel.Cancelled):
        with _lock:
            stopped[name] += 1


async def unless_disconnected(request, pool: cf.Executor | None, fn, *args, **kwargs):
    """fn(*args, **kwargs) on the pool (None: the event loop's thread pool); None if the client
    went away first. Then the work is dropped from the queue if it had not started, and stopped at
    its next engine checkpoint (processes.engine.cancel) if it had."""
    stop = threading.Event()
    call = functools.partial(cancel.run, stop, functools.partial(fn, *args, **kwargs))
    work: cf.Future = pool.submit(call) if pool is not None else _in_threads(call)
    work.add_done_callback(functools.partial(_count_stopped, fn.__name__))
    waiting = asyncio.wrap_future(work)
    watch = asyncio.ensure_future(_disconnect(request.receive))
    try:
        done, _ = await asyncio.wait({waiting, watch}, return_when=asyncio.FIRST_COMPLETED)
        if watch in done and not work.done():
            stop.set()
            if work.cancel():
                cancelled[fn.__name__] += 1
            waiting.cancel()  # nobody awaits its outcome now
            return None
        return work.result()
    finally:
        watch.cancel()


def _in_threads(call) -> cf.Future:
    """call() on the event loop's worker threads (starlette's run_in_threadpool), as a future."""
    fut: cf.Future = cf.Future()

    async def run() -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(await run_in_threadpool(call))
        except BaseException as exc:  # the work's error, or the server shutting down
            fut.set_exception(exc)
            if not isinstance(exc, Exception):
                raise

    _background.add(task := asyncio.ensure_future(run()))
    task.add_done_callback(_background.discard)
    return fut
