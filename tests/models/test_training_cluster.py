"""Training spreads over the executor: a train-model job on a real dask cluster (`dask scheduler`
+ two `dask worker` processes on loopback) evaluates its feature stack as chunk tasks on both
workers, and fits the same model as the same job on the local process pool."""
from __future__ import annotations

import pytest
from rasterio.warp import transform_bounds
from starlette.testclient import TestClient

from app.main import create_app

from ..servers.dask import dask_cluster
from .conftest import train


def test_a_training_jobs_stack_runs_on_every_dask_worker_and_fits_the_pool_model(client, clear_block, settings,
                                                                                   tmp_path):
    w, s, e, n = clear_block
    bbox84 = list(transform_bounds("EPSG:32631", "OGC:CRS84", w - 2560, s - 2560, e + 2560, n + 2560))
    inputs = dict(method="kmeans", features=None, bbox=bbox84, clusters=4, max_samples=2000, seed=3)
    (tmp_path / "dask").mkdir()
    with dask_cluster(tmp_path / "dask", workers=2) as cluster:
        on_dask = settings.model_copy(update={"executor": cluster.spec, "jobs_dir": tmp_path / "jobs",
                                              "region_chunk": 64})  # ~6.4 km at 30 m: several chunks
        with TestClient(create_app(on_dask)) as dc:
            st, result = train(dc, **inputs)
            ran = dc.app.state.services.executor._get_client().run(
                lambda dask_worker: dask_worker.state.executed_count)
    assert st["status"] == "successful", st
    assert len(ran) == 2 and all(n > 0 for n in ran.values()), ran  # both workers computed stack chunks
    ref_st, ref = train(client, **inputs)  # the session's service: a local process pool
    assert ref_st["status"] == "successful", ref_st
    got, want = result["model"]["report"], ref["model"]["report"]
    assert got["samples"] == want["samples"] == 2000
    assert sorted(got["cluster_sizes"]) == sorted(want["cluster_sizes"])
    assert got["inertia"] == pytest.approx(want["inertia"], rel=1e-6)
