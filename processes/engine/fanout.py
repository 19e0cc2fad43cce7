"""Fan work out as separate executor tasks: results in order, progress, bounded memory, retries.

The one way a region, a zonal-statistics run or a model's prediction spreads over the workers of
the configured executor. Each item is its own task named `{key}-{index}-{attempt}` (equal work,
equal names: dask shares identical tasks between callers). At most `window` tasks are in flight
or finished-but-not-consumed, so memory holds a bounded number of results however many items
there are: a consumer that streams each result to a file keeps the whole run bounded.

A task whose worker was lost (a process-pool worker killed, a dask worker gone for good) is
submitted again, up to `tries` attempts in all; then the run fails with :class:`ChunkLost`
naming the item. An error raised by the work itself is not retried (it would fail again).
On dask the scheduler already re-runs the tasks of a dead worker by itself
(`distributed.scheduler.allowed-failures`, 3 by default) before it reports `KilledWorker`.
"""
from __future__ import annotations

import concurrent.futures as cf
import logging
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterator, Sequence, TypeVar

from .cancel import checkpoint
from .errors import ChunkLost
from .executor import Executor

A = TypeVar("A")
T = TypeVar("T")
log = logging.getLogger(__name__)
TRIES = 3
_LOST_NAMES = {"KilledWorker", "CommClosedError"}  # distributed's, matched by name: dask stays a lazy import


def lost(exc: BaseException) -> bool:
    """Whether an error says the worker went away (retry) rather than the work failed (don't)."""
    return isinstance(exc, BrokenProcessPool) or type(exc).__name__ in _LOST_NAMES


def fan_out(executor: Executor, fn: Callable[[A], T], items: Sequence[A], *, key: str,
            window: int | None = None, tries: int = TRIES,
            progress: Callable[[int, int], None] | None = None) -> Iterator[T]:
    """Yield fn(item) for every item, in order, each computed as its own executor task.

    `progress(done, total)` is called as tasks finish (in any order). Closing the generator
    early (an error, a dismissed job) cancels the tasks still pending.
    """
    total = len(items)
    window = max(1, window or 2 * executor.workers)
    attempts = [0] * total
    pending: dict[cf.Future, int] = {}
    ready: dict[int, T] = {}
    submitted = done = 0

    def submit(i: int) -> None:
        attempts[i] += 1
        pending[executor.submit(fn, items[i], key=f"{key}-{i}-{attempts[i]}")] = i

    try:
        for nxt in range(total):
            while nxt not in ready:
                while submitted < total and len(pending) + len(ready) < window:
                    submit(submitted)
                    submitted += 1
                finished, _ = cf.wait(list(pending), timeout=0.2, return_when=cf.FIRST_COMPLETED)
                checkpoint()  # a requester gone: the pending tasks are cancelled below
                for fut in finished:
                    i = pending.pop(fut)
                    exc = fut.exception()
                    if exc is None:
                        ready[i] = fut.result()
                        done += 1
                        if progress is not None:
                            progress(done, total)
                    elif lost(exc) and attempts[i] < tries:
                        log.warning("%s: item %d lost with its worker (%r); attempt %d of %d",
                                    key, i, exc, attempts[i] + 1, tries)
                        submit(i)
                    elif lost(exc):
                        raise ChunkLost(f"part {i} of {total} was lost with its worker {tries} times; giving up") from exc
                    else:
                        raise exc
            yield ready.pop(nxt)
    finally:
        for fut in pending:
            fut.cancel()
