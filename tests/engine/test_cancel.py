"""Cooperative cancellation: work run with a set event stops at the engine's next checkpoint
(a graph node, a scene read, a wait for a region's chunks); without one it runs to the end."""
from __future__ import annotations

import threading

import pytest

from processes.engine import cancel
from processes.engine.evaluate import evaluate
from processes.engine.fanout import fan_out
from processes.engine.graph import parse_process
from processes.engine.grid import Grid
from processes.engine.executor import ProcessExecutor

from . import chunk_work


def _graph(dem):
    return parse_process("slope", {"data": {"process": "hillshade", "inputs": {"data": {"collection": "dem"}}}},
                         {"dem": dem}.__getitem__)


def test_without_an_event_the_work_runs_and_with_one_unset_too(dem):
    grid = Grid.from_bounds("EPSG:4326", (-20, -10, 20, 10), 64, 32)
    plain = evaluate([_graph(dem)], grid, {"dem": dem}.__getitem__)[0]
    watched = cancel.run(threading.Event(), lambda: evaluate([_graph(dem)], grid, {"dem": dem}.__getitem__))[0]
    assert (plain.data == watched.data).all()


def test_a_set_event_stops_an_evaluation_before_its_reads(dem, monkeypatch):
    reads = []
    real = type(dem).read
    monkeypatch.setattr(type(dem), "read", lambda self, *a, **k: reads.append(1) or real(self, *a, **k))
    stop = threading.Event()
    stop.set()
    grid = Grid.from_bounds("EPSG:4326", (-20, -10, 20, 10), 64, 32)
    with pytest.raises(cancel.Cancelled):
        cancel.run(stop, lambda: evaluate([_graph(dem)], grid, {"dem": dem}.__getitem__))
    assert reads == []


def test_a_region_waiting_for_its_chunks_stops_and_drops_the_queued_ones():
    ex = ProcessExecutor(1)
    stop = threading.Event()
    got = []

    def consume():
        for x in fan_out(ex, chunk_work.sleep_and_return, [0.3] * 20, key="cancel-test"):
            got.append(x)

    threading.Timer(0.5, stop.set).start()

    try:
        with pytest.raises(cancel.Cancelled):
            cancel.run(stop, consume)
        assert 0 < len(got) < 20
    finally:
        ex.shutdown()
