"""Cooperative cancellation of work in progress (a tile, a synchronous region) whose requester
went away: a thread runs the work with `run(event, fn)`, and the engine calls `checkpoint()` at
its natural boundaries (each node of a graph, each scene read, each wait for a region's chunks),
which raises :class:`Cancelled` once the event is set. Work run without an event (jobs, tests)
never stops there. The longest stretch between two checkpoints is one operation's kernel or one
scene's read; chunks already running on the executor's workers finish, the queued ones are dropped.
"""
from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Callable, TypeVar

T = TypeVar("T")
_event: ContextVar[threading.Event | None] = ContextVar("geodeferred_cancel", default=None)


class Cancelled(Exception):
    """Nobody waits for this result any more."""


def checkpoint() -> None:
    event = _event.get()
    if event is not None and event.is_set():
        raise Cancelled("the requester went away")


def run(event: threading.Event, fn: Callable[[], T]) -> T:
    """fn() in this thread, stopping at its next checkpoint once `event` is set."""
    token = _event.set(event)
    try:
        return fn()
    finally:
        _event.reset(token)
