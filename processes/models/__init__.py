"""Trained models as catalogued artefacts: ONNX files run by onnxruntime, described by STAC items
with the MLM extension, stored durably; training from labelled features as a job.

Two stores with one interface (`open_model_store`): `ModelStore` (the embedded default: a folder
every worker shares) and `PgModelStore` (a `postgresql://` DSN: the service's database, each
process keeping a local copy of the ONNX files it runs). Worker processes (a process pool, dask
workers) build theirs from the environment (`from_environment`): `GEODEFERRED_MODELS_DIR` (the
folder, or for the database this process's copies) and `GEODEFERRED_MODELS_DB` (the DSN, if any).
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..ops import _models
from ..ops._models import DB_ENV, ENV
from .pg import PgModelStore
from .store import Models, ModelStore

AnyModelStore = ModelStore | PgModelStore


def open_model_store(backend: str, root: Path | str) -> AnyModelStore:
    """'embedded': files under `root`; a postgresql:// DSN: the database (migrated here), with `root`
    this process's folder of model copies."""
    if backend == "embedded":
        return ModelStore(root)
    store = PgModelStore(backend, root)
    store.migrate()
    return store


def install(store: AnyModelStore) -> Callable[[], None]:
    """Make `store` the one operations use in this process, and name it in the environment for the
    worker processes it starts later; returns what gives back the store this process had before."""
    before = {k: os.environ.get(k) for k in (ENV, DB_ENV)}, _models.installed()
    _set_environment({ENV: str(store.root), DB_ENV: store.dsn if isinstance(store, PgModelStore) else None})
    _models.use(store)

    def restore() -> None:
        _set_environment(before[0])
        _models.use(before[1])
    return restore


def _set_environment(values: dict[str, str | None]) -> None:
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def from_environment() -> AnyModelStore:
    """The store the environment names (see the module): a database DSN without a folder keeps its
    copies in a folder of the system's temporary directory."""
    dsn, root = os.environ.get(DB_ENV), os.environ.get(ENV)
    if dsn:
        return PgModelStore(dsn, root or Path(tempfile.gettempdir()) / f"geodeferred-models-{os.getuid()}")
    if not root:
        raise KeyError(ENV)
    return ModelStore(root)


__all__ = ["AnyModelStore", "ModelStore", "Models", "PgModelStore", "from_environment", "install", "open_model_store"]
