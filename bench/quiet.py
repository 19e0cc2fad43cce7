"""The machine is shared (other sessions run tests on the same 2 cores): measure CPU used by
everything, wait briefly for a quiet machine before each measurement, and report what other
processes used during it, so a disturbed number can be told from a clean one."""
from __future__ import annotations

import time
from contextlib import contextmanager

import psutil

THRESHOLD = 0.25  # cores busy (all processes) below which the machine counts as quiet
BUDGET = 240.0
_budget = {"left": BUDGET}  # seconds of waiting allowed in one bench run, in total


def busy_seconds() -> float:
    """CPU seconds spent busy by the whole machine since boot (iowait and idle excluded)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0) + getattr(t, "steal", 0.0)


def busy_cores(interval: float = 0.5) -> float:
    b0, t0 = busy_seconds(), time.perf_counter()
    time.sleep(interval)
    return (busy_seconds() - b0) / (time.perf_counter() - t0)


def wait_quiet(max_wait: float = 15.0) -> dict:
    """Wait (at most max_wait s, and within the run's budget) until the machine is quiet."""
    t0 = time.perf_counter()
    busy = busy_cores()
    while busy > THRESHOLD and time.perf_counter() - t0 < min(max_wait, _budget["left"]):
        busy = busy_cores(1.0)
    waited = time.perf_counter() - t0
    _budget["left"] = max(0.0, _budget["left"] - waited)
    return {"waited_s": round(waited, 1), "busy_before": round(busy, 2)}


def budget_left() -> float:
    return _budget["left"]


@contextmanager
def capped(seconds: float):
    """At most `seconds` of waiting for a quiet machine inside the block (and within the run's budget)."""
    saved = _budget["left"]
    cap = min(saved, seconds)
    _budget["left"] = cap
    try:
        yield
    finally:
        _budget["left"] = saved - (cap - _budget["left"])


class Meter:
    """Wall time, this process's CPU and the whole machine's busy CPU over a block."""

    def __enter__(self) -> "Meter":
        self.t0, self.c0, self.b0 = time.perf_counter(), time.process_time(), busy_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0
        self.busy = busy_seconds() - self.b0

    def other_cores(self, ours_cpu: float) -> float:
        """Cores used by processes other than ours (ours_cpu: CPU seconds of everything we ran)."""
        return max(0.0, (self.busy - ours_cpu) / self.wall) if self.wall > 0 else 0.0
