"""A real dask.distributed cluster on loopback for tests: `dask scheduler` and `dask worker`
subprocesses, as a user starts them (no LocalCluster, no nanny: a killed worker stays dead).

    with dask_cluster(tmp_path, workers=2) as cluster:
        executor = make_executor(cluster.spec)     # "dask://127.0.0.1:PORT"
        os.kill(cluster.workers[0].pid, signal.SIGKILL)
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ._process import free_port, port_open, stop, wait_until

ROOT = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).with_name("dask")


@dataclass
class Cluster:
    address: str  # tcp://127.0.0.1:PORT
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]

    @property
    def spec(self) -> str:
        return "dask://" + self.address.removeprefix("tcp://")


def _wait_for_workers(address: str, n: int, timeout: float = 60) -> None:
    from distributed import Client

    with Client(address, timeout=timeout) as client:
        client.wait_for_workers(n, timeout=timeout)


@contextlib.contextmanager
def dask_cluster(tmp_path: Path, workers: int = 2) -> Iterator[Cluster]:
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = os.environ | {"PYTHONPATH": str(ROOT), "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    log = open(tmp_path / "dask.log", "ab")
    procs: list[subprocess.Popen] = []
    try:
        scheduler = subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                      "--no-dashboard"], cwd=ROOT, env=env, stdout=log, stderr=log)
        procs.append(scheduler)
        wait_until(lambda: port_open(port), scheduler, lambda: f"dask scheduler did not start; see {tmp_path / 'dask.log'}")
        ws = []
        for i in range(workers):
            ws.append(subprocess.Popen([str(DASK), "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                        "--no-nanny", "--no-dashboard", "--name", f"w{i}",
                                        "--local-directory", str(tmp_path / f"w{i}")],
                                       cwd=ROOT, env=env, stdout=log, stderr=log))
        procs.extend(ws)
        _wait_for_workers(address, workers)
        yield Cluster(address, scheduler, ws)
    finally:
        stop(*reversed(procs))
        log.close()
