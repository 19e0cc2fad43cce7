"""Models for tests: fit a scikit-learn estimator, store it as the service stores trained models
(ONNX + MLM item), and install a store as the operations' model provider for a test's duration."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from processes.models.convert import to_onnx_bytes
from processes.models.mlm import build_item, colour, properties
from processes.models.store import ModelStore
from processes.ops import _models
from processes.ops._models import ModelClass


def put_model(store: ModelStore, model_id: str, estimator, bands: Sequence[str], kind: str = "classifier") -> None:
    if kind == "clusterer":
        classes = [ModelClass(k + 1, f"cluster {k + 1}", colour(k)) for k in range(estimator.n_clusters)]
        outputs = {"label": "label", "scores": "scores"}
    else:
        classes = [ModelClass(int(v), f"class {v}", colour(i)) for i, v in enumerate(estimator.classes_)]
        outputs = {"label": "label", "scores": "probabilities"}
    onnx = to_onnx_bytes(estimator, len(bands))
    props = properties(model_id, type(estimator).__name__, kind, bands, classes, "scikit-learn", "test", len(onnx), None)
    store.put(model_id, onnx, build_item(model_id, props, kind, None, "2026-01-01T00:00:00Z", {}, outputs=outputs),
              replace=True)


def synthetic(n: int, bands: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features in 0..1 and 3 classes that depend on the first two of them."""
    x = np.random.default_rng(seed).uniform(0, 1, (n, bands)).astype(np.float32)
    y = 1 + (x[:, 0] > 0.5).astype(int) + (x[:, 1] > 0.6).astype(int)
    return x, y


@contextlib.contextmanager
def installed(store: ModelStore) -> Iterator[ModelStore]:
    """Operations use `store` inside the block; the previous provider is restored after."""
    before = _models._provider
    _models.use(store)
    try:
        yield store
    finally:
        _models.use(before)


def contract_store(root: Path) -> ModelStore:
    from sklearn.cluster import KMeans
    from sklearn.ensemble import RandomForestClassifier

    store = ModelStore(root)
    x, y = synthetic(400, 2)
    put_model(store, "contract-rf", RandomForestClassifier(10, random_state=0).fit(x, y), ("B04", "B08"))
    put_model(store, "contract-kmeans", KMeans(3, n_init=2, random_state=0).fit(x), ("B04", "B08"), "clusterer")
    return store
