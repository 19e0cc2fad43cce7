"""The model store contract, against both stores (files; a real PostgreSQL on loopback): a model
stored through one replica is described, served and applied by another (for PostgreSQL another
machine: its own folder, a copy downloaded and checked by digest), predictions equal the
scikit-learn estimator's; ids are unique, replacing is explicit, an unchanged operator file is not
copied again; a separate worker process finds the store through its environment alone."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import psycopg
import pytest
from sklearn.ensemble import RandomForestClassifier

from processes.models import ModelStore, PgModelStore, open_model_store
from processes.models.convert import to_onnx_bytes
from processes.models.mlm import build_item, properties
from processes.models.runtime import ModelError
from processes.ops._models import DB_ENV, ENV, ModelClass, UnknownModel
from tests.model_util import put_model, synthetic

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def rf():
    x, y = synthetic(400, 2)
    return RandomForestClassifier(10, random_state=0).fit(x, y)


@pytest.fixture
def stores(jobs_backend, tmp_path):
    """A store and the same store seen from another machine (files: the shared folder)."""
    a = open_model_store(jobs_backend, tmp_path / "a")
    b = ModelStore(a.root) if isinstance(a, ModelStore) else PgModelStore(a.dsn, tmp_path / "b")
    return a, b


def item(mid: str, size: int) -> dict:
    classes = [ModelClass(1, "one", "#000000")]
    props = properties(mid, "Test", "classifier", ["B04", "B08"], classes, "scikit-learn", "test", size, None)
    return build_item(mid, props, "classifier", None, "2026-01-01T00:00:00Z", {}, outputs={"label": "label"})


def test_a_model_stored_on_one_replica_is_applied_by_another(stores, rf):
    a, b = stores
    put_model(a, "rf", rf, ("B04", "B08"))
    assert b.ids() == ["rf"] and b.item("rf") == a.item("rf") and b.report("rf") is None
    assert b.model_file("rf").read_bytes() == a.model_file("rf").read_bytes()
    assert b.model_file("rf").is_relative_to(b.root)  # its own copy (PostgreSQL), or the shared folder
    x = np.random.default_rng(3).uniform(0, 1, (500, 2)).astype(np.float32)
    codes, probs = b.get("rf").predict(x)
    np.testing.assert_array_equal(codes, rf.predict(x).astype(np.float32))
    np.testing.assert_allclose(probs, rf.predict_proba(x), atol=1e-5)
    assert [i["id"] for i in b.items()] == ["rf"]


def test_reports_items_and_unknown_ids(stores):
    a, b = stores
    data = b"x" * 10
    a.put("m1", data, item("m1", len(data)), {"overall_accuracy": 0.9})
    assert b.report("m1") == {"overall_accuracy": 0.9} and b.item("m1")["id"] == "m1"
    for bad in ("nope", "../m1", "", ".hidden"):
        for call in (b.item, b.report, b.model_file, b.get):
            with pytest.raises(UnknownModel):
                call(bad)


def test_ids_are_unique_and_replacing_is_explicit(stores):
    a, b = stores
    a.put("m", b"one", item("m", 3))
    first = b.model_file("m")
    with pytest.raises(ModelError, match="exists"):
        b.put("m", b"two", item("m", 3))
    assert b.model_file("m").read_bytes() == b"one"
    b.put("m", b"two", item("m", 3), replace=True)
    assert a.model_file("m").read_bytes() == b"two" and b.model_file("m").read_bytes() == b"two"
    if isinstance(b, PgModelStore):  # the copy is named by the digest: the old one went
        assert b.model_file("m").parent.name == hashlib.sha256(b"two").hexdigest() and not first.exists()


def test_large_models_stream_in_chunks(stores):
    a, b = stores
    data = np.random.default_rng(1).integers(0, 256, 2 * 1024 * 1024 + 7, dtype=np.uint8).tobytes()
    a.put("big", data, item("big", len(data)))
    assert b.model_file("big").read_bytes() == data
    if isinstance(a, PgModelStore):
        with psycopg.connect(a.dsn) as c:
            sizes = [r[0] for r in c.execute("SELECT octet_length(data) FROM geodeferred_model_chunks "
                                             "WHERE model_id = 'big' ORDER BY seq")]
        assert sizes == [1 << 20, 1 << 20, 7]


def test_an_unchanged_operator_file_is_not_copied_again(stores, rf, tmp_path):
    a, b = stores
    path = tmp_path / "rf.onnx"
    path.write_bytes(to_onnx_bytes(rf, 2))
    assert a.register_file("op", path, item("op", path.stat().st_size)) is True
    assert b.register_file("op", path, item("op", path.stat().st_size)) is False  # e.g. the next replica starting
    path.write_bytes(to_onnx_bytes(RandomForestClassifier(3, random_state=1).fit(*synthetic(100, 2)), 2))
    assert b.register_file("op", path, item("op", path.stat().st_size)) is True
    assert a.model_file("op").read_bytes() == path.read_bytes()
    with pytest.raises(ModelError, match="not a valid ONNX"):
        path.write_bytes(b"junk")
        a.register_file("op", path, item("op", 4))


def test_a_worker_process_finds_the_store_through_its_environment(stores, rf, tmp_path):
    """What a pool or dask worker does: nothing installed, only the environment (for PostgreSQL the
    DSN and a folder of its own, not the web worker's)."""
    a, _ = stores
    put_model(a, "env-rf", rf, ("B04", "B08"))
    env = {k: v for k, v in os.environ.items() if k not in (ENV, DB_ENV)}
    if isinstance(a, PgModelStore):
        env.update({DB_ENV: a.dsn, ENV: str(tmp_path / "worker")})
    else:
        env[ENV] = str(a.root)
    x = np.random.default_rng(5).uniform(0, 1, (50, 2)).astype(np.float32)
    code = ("import json, sys, numpy as np; from processes.ops import _models; "
            "x = np.array(json.loads(sys.stdin.read()), np.float32); print(json.dumps(_models.get('env-rf').predict(x)[0].tolist()))")
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(x.tolist()), env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == rf.predict(x).astype(float).tolist()
    if isinstance(a, PgModelStore):
        assert list((tmp_path / "worker" / "env-rf").iterdir())  # its own copy


def test_an_app_that_stops_gives_back_the_model_store_it_found(client, settings, tmp_path, empty_jobs_db):
    """Several apps in one process (tests): the one stopping restores the operations' store and the
    environment its workers read."""
    from starlette.testclient import TestClient

    from app.main import create_app
    from processes.ops import _models

    before, env = _models.installed(), (os.environ.get(ENV), os.environ.get(DB_ENV))
    with TestClient(create_app(settings.model_copy(update={"jobs_dir": tmp_path, "jobs_backend": empty_jobs_db}))):
        assert isinstance(_models.installed(), PgModelStore) and os.environ[DB_ENV] == empty_jobs_db
    assert _models.installed() is before and (os.environ.get(ENV), os.environ.get(DB_ENV)) == env
