"""One executor interface for parallel tile work and async jobs.

The engine and the job runner only see :class:`Executor`; which backend runs the
work (the calling thread, a local process pool, a dask.distributed cluster) is
configuration, chosen with :func:`make_executor`. Functions handed to an executor
must be module-level (picklable by reference) and take positional arguments only.

Everything is lazy: constructing an executor starts no process and imports no
dask, so building one at import/configuration time is cheap.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import multiprocessing
import os
import select
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol, TypeVar, runtime_checkable

from .allocator import UNPIN, tune_allocator

if TYPE_CHECKING:  # pragma: no cover - typing only, keeps dask import lazy
    from distributed import Client, LocalCluster

T = TypeVar("T")
A = TypeVar("A")

__all__ = ["Executor", "InlineExecutor", "ProcessExecutor", "DaskExecutor", "make_executor"]


@runtime_checkable
class Executor(Protocol):
    """What the engine needs from a parallel backend."""

    def submit(self, fn: Callable[..., T], /, *args: Any, key: str | None = None) -> cf.Future[T]:
        """Run fn(*args) as one task; `key` names it deterministically where the backend has names
        (dask: equal keys are one task, shared by every caller)."""
        ...

    def map(self, fn: Callable[[A], T], items: Iterable[A]) -> list[T]:
        """Ordered results; raises the first error."""
        ...

    def shutdown(self) -> None: ...

    @property
    def workers(self) -> int: ...


class InlineExecutor:
    """Runs everything in the calling thread: deterministic, for tests and debugging."""

    def submit(self, fn: Callable[..., T], /, *args: Any, key: str | None = None) -> cf.Future[T]:
        fut: cf.Future[T] = cf.Future()
        fut.set_running_or_notify_cancel()
        try:
            fut.set_result(fn(*args))
        except Exception as exc:  # delivered through the future, like the real pools
            fut.set_exception(exc)
        return fut

    def map(self, fn: Callable[[A], T], items: Iterable[A]) -> list[T]:
        return [fn(item) for item in items]

    def shutdown(self) -> None:
        pass

    @property
    def workers(self) -> int:
        return 1

    def __repr__(self) -> str:
        return "InlineExecutor()"


def _mp_context() -> multiprocessing.context.BaseContext | None:
    """'forkserver' on Linux: forking a process that holds GDAL handles or threads is unsafe."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("forkserver")
    return None  # platform default ('spawn' on macOS/Windows) is already safe


# -- pool worker side: leave with the parent -------------------------------------
# A stdlib pool worker whose parent was SIGKILLed (gunicorn timeout, OOM) blocks on
# its task queue forever, keeping the forkserver and resource tracker alive too.
_task_lock = threading.Lock()
_busy = 0


def _invoke(fn: Callable[..., T], *args: Any) -> T:
    """Runs a task, marked busy so the watchdog never kills it half-way."""
    global _busy
    with _task_lock:
        _busy += 1
    try:
        return fn(*args)
    finally:
        with _task_lock:
            _busy -= 1


def _wait_for_exit(pid: int) -> None:
    try:  # a pidfd cannot be fooled by pid reuse
        fd = os.pidfd_open(pid)
        select.select([fd], [], [])
        return
    except (AttributeError, OSError):
        pass
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            pass
        time.sleep(1.0)


def _worker_init(parent_pid: int) -> None:
    """Pool initializer: the allocator tuned, and gone with the parent."""
    tune_allocator()
    _exit_with_parent(parent_pid)


def _exit_with_parent(parent_pid: int) -> None:
    """Once the parent is gone, exit as soon as no task is running."""

    def watch() -> None:
        _wait_for_exit(parent_pid)
        while True:
            with _task_lock:
                if not _busy:
                    os._exit(0)
            time.sleep(0.1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


RESULT_PIPE = 1 << 20  # bytes; Linux's default limit for unprivileged pipes (/proc/sys/fs/pipe-max-size)


def _widen_result_pipe(pool: cf.ProcessPoolExecutor) -> None:
    """Results come back through one pipe of 64 KiB: a worker writing a region chunk's 5 MB stalls
    in lockstep with the parent reading it, so neither computes meanwhile. A 1 MiB pipe (where the
    pool's queue is the stdlib's SimpleQueue, on Linux) cut the parent's CPU per 5 MB result by a
    quarter and the round trip from 20 to 15 ms; anything else leaves the pool as it is."""
    import fcntl

    reader = getattr(getattr(pool, "_result_queue", None), "_reader", None)
    if reader is None or not hasattr(fcntl, "F_SETPIPE_SZ"):
        return
    try:
        fcntl.fcntl(reader.fileno(), fcntl.F_SETPIPE_SZ, RESULT_PIPE)
    except OSError:  # a lower system limit: the default pipe
        pass


class ProcessExecutor:
    """A ProcessPoolExecutor created on first use and re-created if a worker died.

    A killed worker (OOM killer, SIGKILL) breaks a stdlib pool for good; replacing it
    keeps a long-lived web worker usable. Futures that were in the broken pool fail
    with ``BrokenProcessPool`` and must be resubmitted by their owner. Conversely, pool
    workers exit by themselves (after the task in hand) when this process dies.
    """

    def __init__(self, max_workers: int | None = None) -> None:
        n = max_workers if max_workers is not None else (os.cpu_count() or 1)
        if n < 1:
            raise ValueError(f"process executor needs at least 1 worker, got {n}")
        self._n = n
        self._pool: cf.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _get_pool(self, broken: cf.ProcessPoolExecutor | None = None) -> cf.ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("executor has been shut down")
            if self._pool is not None and self._pool is broken:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
            if self._pool is None:
                self._pool = cf.ProcessPoolExecutor(
                    self._n, mp_context=_mp_context(), initializer=_worker_init, initargs=(os.getpid(),)
                )
                _widen_result_pipe(self._pool)
            return self._pool

    def submit(self, fn: Callable[..., T], /, *args: Any, key: str | None = None) -> cf.Future[T]:
        pool = self._get_pool()
        try:
            return pool.submit(_invoke, fn, *args)
        except BrokenProcessPool:
            return self._get_pool(broken=pool).submit(_invoke, fn, *args)

    def map(self, fn: Callable[[A], T], items: Iterable[A]) -> list[T]:
        items = list(items)
        if not items:
            return []
        chunksize = max(1, len(items) // (self._n * 4))  # fewer round trips for many small tiles
        call = functools.partial(_invoke, fn)
        pool = self._get_pool()
        try:
            results = pool.map(call, items, chunksize=chunksize)
        except BrokenProcessPool:
            results = self._get_pool(broken=pool).map(call, items, chunksize=chunksize)
        return list(results)

    def shutdown(self) -> None:
        """Cancel queued work, wait for running work; idempotent."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    @property
    def workers(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"ProcessExecutor({self._n})"


class _DaskBridge(cf.Future):
    """A running concurrent future mirroring a dask one: cancel() releases the dask task."""

    def __init__(self, dfut: Any) -> None:
        super().__init__()
        self._dfut = dfut

    def cancel(self) -> bool:
        if not self.done():
            self._dfut.cancel()
        return False  # like any running future: the result (CancelledError) arrives through the callback


class DaskExecutor:
    """A dask.distributed client, connected (or a LocalCluster started) on first use."""

    def __init__(self, address: str | None = None, n_workers: int | None = None) -> None:
        if address is None and not n_workers:
            raise ValueError("DaskExecutor needs a scheduler address or n_workers for a local cluster")
        self._address = address
        self._n_local = n_workers
        self._client: Client | None = None
        self._cluster: LocalCluster | None = None
        self._lock = threading.Lock()
        self._closed = False
        # distributed cancels tasks whose Future objects are garbage collected:
        # keep them alive until done, whatever the caller does with the bridge.
        self._inflight: set[Any] = set()

    def _get_client(self) -> Client:
        with self._lock:
            if self._closed:
                raise RuntimeError("executor has been shut down")
            if self._client is None:
                import dask
                from distributed import Client, LocalCluster  # lazy: dask is heavy

                # Results come straight from the worker that holds them, not relayed by the
                # scheduler (one hop and one copy less per chunk); a network where the service
                # cannot reach the workers sets distributed.client.direct-to-workers: false.
                direct = dask.config.get("distributed.client.direct-to-workers", None)
                direct = True if direct is None else direct
                if self._address is None:
                    with dask.config.set(UNPIN):  # the nannies start their workers with glibc's default
                        self._cluster = LocalCluster(
                            n_workers=self._n_local, threads_per_worker=1, processes=True,
                            dashboard_address="127.0.0.1:0",  # never clash with a running 8787
                        )
                    self._client = Client(self._cluster, direct_to_workers=direct)
                else:
                    self._client = Client(self._address, direct_to_workers=direct)
                from .dask_plugin import TunedAllocator

                self._client.register_plugin(TunedAllocator())  # pinned workers, also ones that join later
            return self._client

    def submit(self, fn: Callable[..., T], /, *args: Any, key: str | None = None) -> cf.Future[T]:
        # without a key, pure=False: every submit is a new call (dask would dedupe identical args otherwise)
        client = self._get_client()
        dfut = client.submit(fn, *args, key=key) if key else client.submit(fn, *args, pure=False)
        return self._bridge(dfut)

    def _bridge(self, dfut: Any) -> cf.Future[Any]:
        """Mirror a dask future into a concurrent.futures.Future whose cancel() cancels the task."""
        fut: cf.Future[Any] = _DaskBridge(dfut)
        fut.set_running_or_notify_cancel()
        with self._lock:
            self._inflight.add(dfut)

        def _done(d: Any) -> None:
            with self._lock:
                self._inflight.discard(d)
            try:
                if d.cancelled():
                    raise cf.CancelledError(f"dask task {d.key} was cancelled")
                fut.set_result(d.result())
            except BaseException as exc:  # includes asyncio.CancelledError from distributed
                fut.set_exception(exc)

        dfut.add_done_callback(_done)
        return fut

    def map(self, fn: Callable[[A], T], items: Iterable[A]) -> list[T]:
        items = list(items)
        if not items:
            return []
        client = self._get_client()
        futures = client.map(fn, items, pure=False)
        try:
            return list(client.gather(futures))  # raises the first error it sees
        except BaseException:
            client.cancel(futures)
            raise

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            client, cluster = self._client, self._cluster
            self._client = self._cluster = None
            self._inflight.clear()
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    @property
    def workers(self) -> int:
        """Parallel task slots (sum of worker threads); at least 1 so callers can size chunks."""
        if self._client is None and self._address is None and self._n_local:
            return self._n_local  # known without starting the local cluster
        return max(1, sum(self._get_client().nthreads().values()))

    def __repr__(self) -> str:
        return f"DaskExecutor({self._address or f'local:{self._n_local}'})"


_SPECS = "'inline', 'process', 'process:N', 'dask://host:port', 'tcp://host:port' or 'dask-local:N'"


def _positive_int(text: str, spec: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"executor spec {spec!r}: worker count must be a positive integer, got {text!r}")
    return n


def _address(hostport: str, spec: str) -> str:
    host, sep, port = hostport.rpartition(":")
    if not (sep and host and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"executor spec {spec!r}: expected host:port after the scheme")
    return f"tcp://{hostport}"


def make_executor(spec: str) -> Executor:
    """Build an executor from a configuration string.

    'inline' runs in the calling thread; 'process' / 'process:N' is a local process
    pool (N defaults to os.cpu_count()); 'dask://host:port' / 'tcp://host:port'
    connects to a dask scheduler; 'dask-local:N' starts a LocalCluster with N
    single-threaded worker processes (tests). Nothing starts until first use.
    """
    s = spec.strip()
    if s == "inline":
        return InlineExecutor()
    if s == "process":
        return ProcessExecutor()
    if s.startswith("process:"):
        return ProcessExecutor(_positive_int(s.partition(":")[2], spec))
    if s.startswith("dask://") or s.startswith("tcp://"):
        return DaskExecutor(address=_address(s.partition("://")[2], spec))
    if s.startswith("dask-local:"):
        return DaskExecutor(n_workers=_positive_int(s.partition(":")[2], spec))
    raise ValueError(f"unknown executor spec {spec!r}; expected {_SPECS}")
