"""One region across a real dask cluster (`dask scheduler` + two `dask worker` processes on
loopback): the same pixels and statistics as the local process pool, a job spread over both
workers with progress from finished chunks, and a worker killed mid-job whose chunks are re-run."""
from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import pytest
import rasterio

from processes.engine.executor import make_executor
from processes.engine.graph import parse_process
from processes.engine.region import Region
from processes.execute import job_request, produce
from processes.jobs import JobRunner, JobStore
from processes.statistics import PERCENTILES

from ..servers.dask import dask_cluster

REGION = Region("OGC:CRS84", (-60.0, -30.0, 60.0, 30.0), 1536, 768)
WORK = "processes.execute:run_job_work"


def chain(dem):
    return parse_process("slope", {"data": {"process": "hillshade", "inputs": {
        "data": {"collection": "dem"}, "z_factor": 20}}}, lambda c: dem)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with dask_cluster(tmp_path_factory.mktemp("dask"), workers=2) as c:
        yield c


def _produce(dem, executor, dest):
    dest.mkdir()
    manifest = produce(chain(dem), REGION, ("result", "statistics"), {"dem": dem}.__getitem__, executor, dest, chunk=256)
    with rasterio.open(dest / manifest["result"]["file"]) as ds:
        pixels = ds.read()
    return pixels, json.loads((dest / manifest["statistics"]["file"]).read_bytes())


def test_same_pixels_and_statistics_as_the_local_pool(dem, cluster, tmp_path):
    pool = make_executor("process:2")
    dask = make_executor(cluster.spec)
    try:
        local_px, local_stats = _produce(dem, pool, tmp_path / "local")
        dask_px, dask_stats = _produce(dem, dask, tmp_path / "dask")
        ran_on = dask._get_client().run(lambda dask_worker: len(dask_worker.data) + dask_worker.state.executed_count)
    finally:
        pool.shutdown()
        dask.shutdown()
    np.testing.assert_array_equal(dask_px, local_px)
    assert dask_stats == local_stats
    assert len(ran_on) == 2 and all(n > 0 for n in ran_on.values())  # both workers computed chunks
    v = local_px[0][~np.isnan(local_px[0])].astype(np.float64)  # numpy on the whole written result
    s = local_stats["slope"]
    assert s["count"] == v.size > 0 and s["min"] == v.min() and s["max"] == v.max()
    assert s["mean"] == pytest.approx(v.mean(), rel=1e-9) and s["std"] == pytest.approx(v.std(), rel=1e-9)
    assert all(s[k] == np.percentile(v, q) for k, q in PERCENTILES.items())


def _job(dem, tmp_path, executor, region=REGION, chunk=128):
    store = JobStore(tmp_path / "jobs")
    request = job_request(chain(dem), region, ("result",), {"dem": dem}.__getitem__) | {"chunk": chunk}
    rec = store.create("slope", request)
    return store, JobRunner(store, executor, WORK, coordinators=1), rec.jobID


def test_job_spreads_over_the_cluster_with_progress(dem, cluster, tmp_path):
    ex = make_executor(cluster.spec)
    store, runner, job_id = _job(dem, tmp_path, ex)
    try:
        fut = runner.start(job_id)
        seen = set()
        while not fut.done():
            rec = store.get(job_id)
            seen.add((rec.progress, rec.message))
            time.sleep(0.05)
        assert fut.result() == "successful", store.get(job_id)
    finally:
        runner.shutdown()
        ex.shutdown()
    assert any(0 < p < 100 and "of 72 chunks computed" in m for p, m in seen), seen
    with rasterio.open(store.result_path(job_id, "result.tif")) as ds:
        assert ds.shape == (REGION.height, REGION.width) and ds.descriptions == ("slope",)


def test_worker_killed_mid_job_its_chunks_rerun(dem, tmp_path):
    from distributed import Client

    reference, _ = _produce(dem, make_executor("inline"), tmp_path / "ref")
    with dask_cluster(tmp_path, workers=2) as c:  # its own cluster: this test kills a worker
        ex = make_executor(c.spec)
        store, runner, job_id = _job(dem, tmp_path, ex, chunk=64)
        try:
            with Client(c.address) as watcher:
                victim = c.workers[0].pid  # no nanny: the `dask worker` process is the worker
                (address,) = [a for a, pid in watcher.run(os.getpid).items() if pid == victim]
                fut = runner.start(job_id)
                while not watcher.processing().get(address) and not fut.done():
                    time.sleep(0.01)
                assert not fut.done(), "the job finished before a worker could be killed"
                os.kill(victim, signal.SIGKILL)
                killed_while = store.get(job_id).status
                assert fut.result(timeout=300) == "successful", store.get(job_id)
        finally:
            runner.shutdown()
            ex.shutdown()
    assert killed_while == "running"
    with rasterio.open(store.result_path(job_id, "result.tif")) as ds:
        np.testing.assert_array_equal(ds.read(), reference)
