"""Fan-out: ordered results and progress from a real process pool; a worker killed mid-run is
retried, a part that kills every worker fails the run after the stated number of tries."""
from __future__ import annotations

import pytest

from processes.engine.errors import ChunkLost
from processes.engine.executor import make_executor
from processes.engine.fanout import TRIES, fan_out

from .chunk_work import always_die, die_once, square_slowly


@pytest.fixture
def pool():
    ex = make_executor("process:2")
    yield ex
    ex.shutdown()


def test_results_in_order_with_progress(pool):
    seen = []
    out = list(fan_out(pool, square_slowly, list(range(12)), key="sq", window=3, progress=lambda d, t: seen.append((d, t))))
    assert out == [x * x for x in range(12)]
    assert seen == [(d, 12) for d in range(1, 13)]


def test_inline_executor_gives_the_same(pool):
    assert list(fan_out(make_executor("inline"), square_slowly, list(range(5)), key="sq")) == [0, 1, 4, 9, 16]


def test_killed_worker_part_is_retried(pool, tmp_path):
    items = [(str(tmp_path), i) for i in range(6)]
    assert list(fan_out(pool, die_once, items, key="die-once")) == list(range(6))
    assert (tmp_path / "died").exists()  # a worker really died half-way


def test_part_lost_every_time_fails_after_stated_tries(pool, tmp_path):
    with pytest.raises(ChunkLost, match=f"lost with its worker {TRIES} times"):
        list(fan_out(pool, always_die, [str(tmp_path)], key="always-die"))
    assert len((tmp_path / "attempts").read_text().split()) == TRIES


def test_work_errors_are_not_retried(pool):
    with pytest.raises(TypeError):
        list(fan_out(pool, square_slowly, [1, "x", 3], key="bad"))
