"""Operator ONNX models: registered from the operator's folder (POST /models) or the catalog
(checked at start); a file that is not ONNX is refused with a clear message."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from starlette.testclient import TestClient

from app.model_catalog import load_configured
from processes.models.convert import to_onnx_bytes
from processes.models.runtime import ModelError
from processes.models.store import ModelStore
from tests.model_util import synthetic

from .conftest import STACK, STACK_BANDS
from .conftest import region
from .test_classify_api import execute

CLASSES = [{"value": 1, "name": "low"}, {"value": 2, "name": "mid"}, {"value": 3, "name": "high"}]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("operator-models")
    x, y = synthetic(500, 3)
    (d / "rf.onnx").write_bytes(to_onnx_bytes(RandomForestClassifier(10, random_state=0).fit(x, y), 3))
    (d / "notes.onnx").write_text("this is not a model")
    return d


@pytest.fixture(scope="module")
def operator_client(settings, folder):
    from app.main import create_app

    with TestClient(create_app(settings.model_copy(update={"model_files_dir": folder}))) as c:
        yield c


def test_register_an_operator_file_and_apply_it(operator_client, clear_block):
    body = {"id": "operator-rf", "file": "rf.onnx", "bands": STACK_BANDS, "classes": CLASSES,
            "output": "label", "scores": "probabilities"}
    r = operator_client.post("/models", json=body)
    assert r.status_code == 201, r.text
    item = operator_client.get("/models/operator-rf").json()
    assert item["properties"]["mlm:input"][0]["bands"] == STACK_BANDS
    codes = execute(operator_client, "classify", {"data": STACK, "model": "operator-rf"}, clear_block)[0]
    assert set(np.unique(codes[np.isfinite(codes)])) <= {1.0, 2.0, 3.0}


def test_a_file_that_is_not_onnx_is_a_400(operator_client):
    r = operator_client.post("/models", json={"id": "bad", "file": "notes.onnx", "bands": STACK_BANDS, "classes": CLASSES})
    assert r.status_code == 400 and "not a valid ONNX model" in r.json()["detail"]
    assert operator_client.get("/models/bad").status_code == 404
    r = operator_client.post("/models", json={"id": "x", "file": "../rf.onnx", "bands": ["a"], "classes": CLASSES})
    assert r.status_code == 400 and "plain file name" in r.json()["detail"]
    r = operator_client.post("/models", json={"id": "y", "file": "rf.onnx", "bands": ["a"], "classes": CLASSES,
                                              "tile_size": 16, "overlap": 8})
    assert r.status_code == 400 and "overlap" in r.json()["detail"]


def test_catalog_models_are_checked_at_start(settings, folder, tmp_path):
    store = ModelStore(tmp_path / "store")
    good = {"models": {"cfg-rf": {"file": str(folder / "rf.onnx"), "bands": STACK_BANDS, "classes": CLASSES,
                                  "tile_size": None}}}
    load_configured(settings, good, store)
    assert store.get("cfg-rf").bands == tuple(STACK_BANDS)
    bad = {"models": {"cfg-bad": {"file": str(folder / "notes.onnx"), "bands": STACK_BANDS, "classes": CLASSES}}}
    with pytest.raises(ModelError, match=r"model 'cfg-bad' \(notes.onnx\): not a valid ONNX model"):
        load_configured(settings, bad, store)


def test_region_in_one_request_uses_the_registered_model(operator_client, clear_block):
    r = operator_client.post("/processes/classify/execution",
                             json={"inputs": {"data": STACK, "model": "operator-rf", **region(clear_block)}, "outputs": {"statistics": {}}})
    assert r.status_code == 200 and r.json()["class"]["count"] > 0
