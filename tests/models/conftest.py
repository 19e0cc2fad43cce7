"""A crop classifier trained once through the API on the demo parcels (async job), and the
feature stack it reads: NDVI composites of three seasons of the demo Sentinel-2 series."""
from __future__ import annotations

import pytest

from tests.app.jobs_util import wait_job

RESOLUTION = 30.0  # metres: 9 times fewer pixels than native, parcels keep ~150 interior pixels


def ndvi(datetime: str) -> dict:
    return {"process": "normalized_difference", "inputs": {"a": "B08", "b": "B04", "name": "ndvi", "data": {
        "process": "composite", "inputs": {"bands": ["B04", "B08"], "data": {"collection": "sentinel2", "datetime": datetime}}}}}


STACK = {"process": "stack", "inputs": {"a": ndvi("2022-03-01/2022-04-30"), "b": ndvi("2022-05-01/2022-06-30"),
                                        "c": ndvi("2022-07-01/2022-09-30")}}
STACK_BANDS = ["ndvi_a", "ndvi_b", "ndvi_c"]


def train(client, **inputs) -> tuple[dict, dict]:
    """(final job status, job result) of an async train-model execution."""
    body = {"inputs": {"data": STACK, "features": {"collection": "parcels"}, "resolution": RESOLUTION, **inputs}}
    r = client.post("/processes/train-model/execution", json=body, headers={"Prefer": "respond-async"})
    assert r.status_code == 201, r.text
    st = wait_job(client, r.headers["Location"], timeout=300)
    result = client.get(r.headers["Location"] + "/results").json() if st["status"] == "successful" else {}
    return st, result


@pytest.fixture(scope="session")
def crop_model(client) -> dict:
    st, result = train(client, method="random_forest", name="Crops RF", seed=1)
    assert st["status"] == "successful", st
    return result["model"]
