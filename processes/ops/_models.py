"""How operations reach trained models: by id, through a provider the service installs.

Operations stay pure (no I/O of their own, no engine or app imports): `classify` and `cluster`
name a model in their parameters and ask `get(id)` for it. The service installs its model store
with `use()`; a worker process that has none yet (a process pool, a dask worker) builds one from
its environment: `GEODEFERRED_MODELS_DIR` (a folder) and `GEODEFERRED_MODELS_DB` (the database, if
the models live there), which the service exports before starting its executors (dask workers on
other machines are given them by their deployment).
"""
from __future__ import annotations

import importlib
import os
import threading
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

ENV = "GEODEFERRED_MODELS_DIR"
DB_ENV = "GEODEFERRED_MODELS_DB"
DEFAULT_PROVIDER = "processes.models:from_environment"


class UnknownModel(KeyError):
    """No model has this id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown model"


@dataclass(frozen=True)
class ModelClass:
    value: int
    name: str
    color: str  # "#rrggbb"


class Model(Protocol):
    """What an operation needs of a model: its inputs, outputs and a batch prediction."""

    id: str
    kind: Literal["classifier", "clusterer"]
    bands: tuple[str, ...]  # input band names, in the model's order
    classes: tuple[ModelClass, ...]  # output codes (class values, or cluster numbers)
    tile_size: int | None  # None: a per-pixel model; else the side of the patches it reads
    overlap: int  # pixels of each patch side that are context only (Earth Engine's inputOverlapSize)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Per-pixel models: x (n, bands) float32 -> class codes (n,) and probabilities (n, classes) or None.
        Patch models: x (bands, tile, tile) -> codes (tile, tile) and probabilities (classes, tile, tile)."""
        ...


class ModelProvider(Protocol):
    def get(self, model_id: str) -> Model:
        """The model, or UnknownModel."""
        ...


_provider: ModelProvider | None = None
_lock = threading.Lock()


def use(provider: ModelProvider | None) -> None:
    """Install the provider operations use in this process (None: back to the environment's)."""
    global _provider
    with _lock:
        _provider = provider


def installed() -> ModelProvider | None:
    """The provider `use` installed (None: the environment's, built at first use)."""
    with _lock:
        return _provider


def provider() -> ModelProvider:
    """The installed provider, else the store this process's environment names."""
    global _provider
    with _lock:
        if _provider is None:
            if not os.environ.get(ENV) and not os.environ.get(DB_ENV):
                raise UnknownModel("no model store is configured")
            module, _, name = DEFAULT_PROVIDER.partition(":")
            _provider = getattr(importlib.import_module(module), name)()
        return _provider


def get(model_id: str) -> Model:
    try:
        p = provider()
    except UnknownModel:
        raise UnknownModel(f"unknown model '{model_id}' (no model store is configured)") from None
    return p.get(model_id)
