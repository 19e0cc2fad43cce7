"""The executor backends behave the same: order, errors, worker count, real processes."""

from __future__ import annotations

import math
import operator
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.engine import chunk_work
from processes.engine.executor import (
    DaskExecutor,
    Executor,
    InlineExecutor,
    ProcessExecutor,
    make_executor,
)


def slow_square(x: int) -> int:
    """Later items finish first, so ordered results prove ordering is restored."""
    time.sleep(0.02 * (5 - x % 5))
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError(f"bad item {x}")
    return x


def _pid(_: object) -> int:
    return os.getpid()


SPECS = {"inline": 1, "process:2": 2, "dask-local:2": 2}


@pytest.fixture(scope="module", params=list(SPECS))
def executor(request: pytest.FixtureRequest) -> Iterator[tuple[str, Executor]]:
    ex = make_executor(request.param)
    yield request.param, ex
    ex.shutdown()


def test_submit_returns_result(executor: tuple[str, Executor]) -> None:
    _, ex = executor
    assert ex.submit(operator.mul, 6, 7).result(timeout=30) == 42


def test_map_keeps_order(executor: tuple[str, Executor]) -> None:
    _, ex = executor
    items = list(range(10))
    assert ex.map(slow_square, items) == [x * x for x in items]
    assert ex.map(slow_square, []) == []


def test_submit_propagates_exception(executor: tuple[str, Executor]) -> None:
    _, ex = executor
    fut = ex.submit(math.sqrt, -1)
    with pytest.raises(ValueError, match="math domain error"):
        fut.result(timeout=30)


def test_map_propagates_exception(executor: tuple[str, Executor]) -> None:
    _, ex = executor
    with pytest.raises(ValueError, match="bad item 3"):
        ex.map(fail_on_three, range(6))
    assert ex.submit(operator.add, 1, 2).result(timeout=30) == 3  # still usable afterwards


def test_workers(executor: tuple[str, Executor]) -> None:
    spec, ex = executor
    assert ex.workers == SPECS[spec]
    assert isinstance(ex, Executor)


def test_runs_in_other_processes_unless_inline(executor: tuple[str, Executor]) -> None:
    spec, ex = executor
    pids = set(ex.map(_pid, range(8)))
    submitted = ex.submit(os.getpid).result(timeout=30)
    if spec == "inline":
        assert pids == {os.getpid()} and submitted == os.getpid()
    else:
        assert os.getpid() not in pids and submitted != os.getpid()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_workers_keep_chunk_arrays_on_the_heap(executor: tuple[str, Executor]) -> None:
    """dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which pins glibc's mmap
    threshold at 128 KiB: every chunk array then costs page faults (3x the CPU of a chunk). The
    executors' workers keep them on the heap: the dask workers the executor starts are not pinned,
    and a pinned process that tune_allocator (the dask worker plugin) ran in is repaired; the same
    pinned process without it mmaps every chunk array."""
    spec, ex = executor
    if spec == "inline":
        pytest.skip("the calling process's allocator is the caller's business")
    assert ex.submit(chunk_work.chunk_array_is_mmapped, None).result(timeout=60) is False
    if spec.startswith("dask"):
        pins = ex._get_client().run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        assert set(pins.values()) == {None}, pins
    pinned = os.environ | {"MALLOC_TRIM_THRESHOLD_": "65536"}
    probe = "from tests.engine import chunk_work; print(chunk_work.chunk_array_is_mmapped())"
    untuned = subprocess.run([sys.executable, "-c", probe], env=pinned, capture_output=True, text=True, timeout=60)
    assert untuned.stdout.strip() == "True", untuned.stderr
    tuned = subprocess.run([sys.executable, "-c", "from processes.engine.allocator import tune_allocator; "
                            "assert tune_allocator(); " + probe], env=pinned, capture_output=True, text=True, timeout=60)
    assert tuned.stdout.strip() == "False", tuned.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux pipes")
def test_process_pool_results_come_back_through_a_wide_pipe() -> None:
    """A region chunk's 5 MB result crosses a 1 MiB pipe, not the default 64 KiB one in which the
    worker and the parent move in lockstep (this checks the stdlib pool still has the queue that
    executor._widen_result_pipe widens)."""
    import fcntl

    from processes.engine.executor import RESULT_PIPE

    limit = int(open("/proc/sys/fs/pipe-max-size").read())
    if limit < RESULT_PIPE:
        pytest.skip(f"this system allows pipes of {limit} bytes only")
    ex = ProcessExecutor(1)
    try:
        assert ex.submit(operator.add, 2, 3).result(timeout=30) == 5
        reader = ex._get_pool()._result_queue._reader
        assert fcntl.fcntl(reader.fileno(), fcntl.F_GETPIPE_SZ) >= RESULT_PIPE
    finally:
        ex.shutdown()


def test_process_pool_recovers_from_killed_worker() -> None:
    ex = ProcessExecutor(1)
    try:
        pid = ex.submit(os.getpid).result(timeout=30)
        os.kill(pid, 9)
        fut = ex.submit(time.sleep, 0.01)
        try:  # the kill may be noticed before or after this submit
            fut.result(timeout=30)
        except Exception:
            pass
        assert ex.submit(operator.add, 2, 2).result(timeout=30) == 4
    finally:
        ex.shutdown()
    with pytest.raises(RuntimeError):
        ex.submit(operator.add, 1, 1)


@pytest.mark.parametrize(
    "spec, cls",
    [
        ("inline", InlineExecutor),
        ("process", ProcessExecutor),
        (" process:3 ", ProcessExecutor),
        ("dask://scheduler:8786", DaskExecutor),
        ("tcp://10.0.0.1:8786", DaskExecutor),
        ("dask-local:1", DaskExecutor),
    ],
)
def test_make_executor_specs(spec: str, cls: type) -> None:
    ex = make_executor(spec)
    assert isinstance(ex, cls)
    ex.shutdown()  # never used: nothing was started, shutdown is cheap


def test_process_default_workers_is_cpu_count() -> None:
    assert make_executor("process").workers == (os.cpu_count() or 1)


@pytest.mark.parametrize(
    "spec", ["", "bogus", "process:", "process:0", "process:x", "dask://nohost", "tcp://h:99999", "dask-local:-1"]
)
def test_make_executor_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="executor spec"):
        make_executor(spec)


def test_construction_is_lazy() -> None:
    """Building any executor imports no dask and starts no process (fresh interpreter)."""
    code = (
        "import sys, multiprocessing as mp\n"
        "from processes.engine.executor import make_executor\n"
        "for s in ('process:2', 'dask-local:2', 'tcp://127.0.0.1:1'): make_executor(s)\n"
        "assert 'distributed' not in sys.modules, 'dask imported eagerly'\n"
        "assert not mp.active_children(), 'processes started eagerly'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


ORPHAN_SCRIPT = """
import os, sys, time
from processes.engine.executor import make_executor

if __name__ == "__main__":
    ex = make_executor("process:1")
    print(ex.submit(os.getpid).result(timeout=30), flush=True)
    time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is as good as gone
        return f.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_pool_workers_exit_when_parent_is_killed(tmp_path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(ORPHAN_SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        assert _alive(worker)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while _alive(worker):
        assert time.monotonic() < deadline, "orphaned pool worker kept running"
        time.sleep(0.05)
