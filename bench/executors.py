"""Executors for the benchmarks: the engine's specs (`process:N`, ...), plus `dask:N`: a dask
scheduler and N single-threaded workers, each in a process of its own (distributed's
SubprocessCluster, no nanny), which is the topology of a deployment: with `dask-local:N`
(LocalCluster) the scheduler runs inside the service's process and competes with it for its GIL."""
from __future__ import annotations

import contextlib
from typing import Iterator

from processes.engine.executor import Executor, make_executor


@contextlib.contextmanager
def executor(spec: str) -> Iterator[Executor]:
    cluster = None
    if spec.startswith("dask:"):
        from distributed.deploy.subprocess import SubprocessCluster

        cluster = SubprocessCluster(n_workers=int(spec.partition(":")[2]), threads_per_worker=1,
                                    worker_class="distributed.Worker", dashboard_address=None)
        ex = make_executor("dask://" + cluster.scheduler_address.removeprefix("tcp://"))
    else:
        ex = make_executor(spec)
    try:
        yield ex
    finally:
        ex.shutdown()
        if cluster is not None:
            cluster.close()
