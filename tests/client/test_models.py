"""`image.train(features, ...)` and `image.classify(model)` against a real server: the train-model request
is the hand-written one, the model's report is the one a hand-posted training of the same request
(same seed) gets, and the class map of the Model object equals the hand-posted classify execution."""
from __future__ import annotations

import inspect
import json

import httpx
import numpy as np
import pytest
from rasterio.io import MemoryFile

from geodeferred_client import Model, NotFoundError, Service
from tests.app.jobs_util import wait_job

SEASONS = (("2022-03-01", "2022-04-30"), ("2022-05-01", "2022-06-30"), ("2022-07-01", "2022-09-30"))


def hand_stack(url: str) -> dict:
    def ndvi(start: str, end: str) -> dict:
        comp = {"process": "composite", "inputs": {"data": {"collection": f"{url}/collections/sentinel2",
                                                            "datetime": f"{start}/{end}"}, "bands": ["B04", "B08"]}}
        return {"process": "normalized_difference", "inputs": {"data": comp, "a": "B08", "b": "B04", "name": "ndvi"}}
    return {"process": "stack", "inputs": dict(zip("abc", (ndvi(*s) for s in SEASONS)))}


def client_stack(svc: Service):
    s2 = svc.collection("sentinel2")
    ndvi = [s2.filter_date(*s).composite(bands=["B04", "B08"]).normalized_difference(a="B08", b="B04", name="ndvi")
            for s in SEASONS]
    return svc.processes.stack(*ndvi)


@pytest.fixture(scope="module")
def trained(client, live_server) -> tuple[Service, Model, list[dict]]:
    sent: list[dict] = []

    def record(request: httpx.Request) -> None:
        if request.method == "POST":
            sent.append(json.loads(request.read()))

    svc = Service(live_server.url, client=httpx.Client(timeout=300, event_hooks={"request": [record]}))
    model = client_stack(svc).train(svc.features("parcels"), resolution=30, seed=1, name="Crops (client)",
                                    progress=False)
    return svc, model, sent


def test_train_sends_the_hand_written_request_and_reports_its_accuracy(trained, live_server):
    svc, model, sent = trained
    url = live_server.url
    hand = {"inputs": {"data": hand_stack(url), "features": {"collection": f"{url}/collections/parcels"},
                       "resolution": 30, "seed": 1, "name": "Crops (client)"}}
    assert sent == [hand]
    assert model.report == httpx.get(f"{url}/models/{model.id}/report", params={"f": "json"}, timeout=30).json()
    assert model.info["id"] == model.id
    # the same request posted by hand trains the same model (same seed): the same accuracy report
    r = httpx.post(f"{url}/processes/train-model/execution", json=hand, headers={"Prefer": "respond-async"}, timeout=60)
    st = wait_job(httpx.Client(timeout=30), r.headers["Location"], timeout=300)
    assert st["status"] == "successful", st
    other = httpx.get(f"{r.headers['Location']}/results", timeout=30).json()["model"]
    assert other["id"] != model.id
    for key in ("overall_accuracy", "kappa", "confusion_matrix", "classes", "held_out_polygons"):
        assert model.report[key] == other["report"][key]


def test_classify_takes_the_trained_model_or_its_id(trained, live_server):
    svc, model, _ = trained
    url = live_server.url
    stack = client_stack(Service(url))
    hand = {"process": "classify", "inputs": {"data": hand_stack(url), "model": model.id}}
    assert stack.classify(model).to_dict() == hand  # positional: `model` is classify's required parameter
    assert stack.classify(model=model).to_dict() == hand == stack.classify(model.id).to_dict()
    assert model.classify(stack).to_dict() == hand
    assert Service(url).model(model.id).classify(stack).to_dict() == hand
    assert list(inspect.signature(type(stack).classify).parameters)[:2] == ["self", "model"]

    s2 = svc.collection("sentinel2").bbox
    cx, cy = (s2[0] + s2[2]) / 2, (s2[1] + s2[3]) / 2
    bbox = [cx - 0.01, cy - 0.01, cx + 0.01, cy + 0.01]
    r = httpx.post(f"{url}/processes/classify/execution",
                   json={"inputs": hand["inputs"] | {"bbox": bbox, "width": 48}}, timeout=120)
    assert r.status_code == 200, r.text
    with MemoryFile(r.content) as mem, mem.open() as ds:
        expected = ds.read().astype(np.float32)
    got = stack.classify(model).compute(bbox=bbox, width=48)
    assert got.shape == expected.shape and np.isfinite(got).any()
    assert np.array_equal(got, expected, equal_nan=True)
    with pytest.raises(NotFoundError):
        Service(url).model("no-such-model")
    # the class map's collection (its legend) is the deferred result's description
    location = httpx.post(f"{url}/processes/classify/execution?response=collection", json={"inputs": hand["inputs"]},
                          timeout=60).headers["location"]
    legend = httpx.get(location, timeout=30).json()["legend"]
    assert stack.classify(model).info["legend"] == legend
    assert {c["name"] for c in legend} == {c["name"] for c in model.report["classes"]}
