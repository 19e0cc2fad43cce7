"""classify / cluster against scikit-learn applied directly; ONNX (onnxruntime) against scikit-learn."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from processes.models.store import ModelStore
from processes.ops import REGISTRY
from tests.model_util import installed, put_model, synthetic

from ._util import make_raster

BANDS = ("ndvi_a", "ndvi_b", "ndvi_c")
ESTIMATORS = {
    "random_forest": lambda: RandomForestClassifier(30, random_state=0),
    "gradient_boosting": lambda: HistGradientBoostingClassifier(max_iter=30, random_state=0),
    "knn": lambda: make_pipeline(StandardScaler(), KNeighborsClassifier(5)),
}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    x, y = synthetic(3000, len(BANDS))
    store = ModelStore(tmp_path_factory.mktemp("models"))
    models = {name: make().fit(x, y) for name, make in ESTIMATORS.items()}
    for name, m in models.items():
        put_model(store, name, m, BANDS)
    models["kmeans"] = KMeans(4, n_init=2, random_state=0).fit(x)
    put_model(store, "kmeans", models["kmeans"], BANDS, "clusterer")
    with installed(store):
        yield store, models


def image(seed: int, rows: int = 64, cols: int = 80):
    x, _ = synthetic(rows * cols, len(BANDS), seed)
    mask = np.ones((rows, cols), bool)
    mask[5:9, 10:30] = False
    return make_raster(x.T.reshape(len(BANDS), rows, cols), BANDS, mask)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_class_map_equals_scikit_learn(fitted, name):
    store, models = fitted
    r = image(1)
    op = REGISTRY["classify"]
    out = op.kernel({"data": r}, op.params(model=name))
    expected = models[name].predict(r.data.reshape(len(BANDS), -1).T).reshape(r.shape)
    assert out.band_names == ("class",)
    assert np.array_equal(out.mask, r.mask)
    agree = (out.data[0] == expected)[r.mask].mean()
    # trees compare float32 features in both; k-NN distances in float32 (ONNX) vs float64 may flip ties
    assert agree == 1.0 if name != "knn" else agree > 0.999


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_probabilities_equal_scikit_learn(fitted, name):
    store, models = fitted
    r = image(2)
    op = REGISTRY["classify"]
    out = op.kernel({"data": r}, op.params(model=name, output="probabilities"))
    assert out.band_names == tuple(f"p_class {v}" for v in models[name].classes_)
    expected = models[name].predict_proba(r.data.reshape(len(BANDS), -1).T).T.reshape(-1, *r.shape)
    assert np.allclose(out.data[:, r.mask], expected[:, r.mask], atol=1e-5)


def test_clusters_are_the_same_on_every_tile(fitted):
    """k-means fitted once: two halves of an image get the clusters of the whole (numbered 1..k)."""
    store, models = fitted
    r = image(3)
    op = REGISTRY["cluster"]
    whole = op.kernel({"data": r}, op.params(model="kmeans")).data[0]
    left = op.kernel({"data": make_raster(r.data[:, :, :40], BANDS, r.mask[:, :40])}, op.params(model="kmeans")).data[0]
    assert np.array_equal(left, whole[:, :40])
    expected = models["kmeans"].predict(r.data.reshape(len(BANDS), -1).T).reshape(r.shape) + 1
    assert ((whole == expected)[r.mask]).mean() > 0.999


def test_bands_must_be_the_models_inputs(fitted):
    op = REGISTRY["classify"]
    p = op.params(model="random_forest")
    with pytest.raises(ValueError, match=r"differ from the inputs of model 'random_forest'"):
        op.check({"data": ("ndvi_a", "ndvi_c", "ndvi_b")}, p)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        op.check({"data": BANDS}, op.params(model="nope"))
    with pytest.raises(ValueError, match="is a clusterer, not a classifier"):
        op.check({"data": BANDS}, op.params(model="kmeans"))
