"""Applying a model to a raster: shared by `classify` and `cluster`.

Per-pixel models see the valid pixels as one (n, bands) float32 batch. Patch models (a tile size
and an overlap declared like Earth Engine's `fromVertexAi`) see windows of `tile_size` pixels that
overlap by `overlap` on each side and keep only each window's centre, so every output pixel had
`overlap` pixels of context; the operation's halo is that overlap, so tiles and chunks agree.
"""
from __future__ import annotations

import numpy as np

from . import _models
from ._base import Raster


def model_of(model_id: str, kind: str) -> _models.Model:
    try:
        model = _models.get(model_id)
    except _models.UnknownModel:
        raise ValueError(f"unknown model '{model_id}' (see /models)") from None
    if model.kind != kind:
        raise ValueError(f"model '{model_id}' is a {model.kind}, not a {kind}")
    return model


def check_bands(model: _models.Model, bands: tuple[str, ...]) -> None:
    if tuple(bands) != tuple(model.bands):
        raise ValueError(f"the input's bands {list(bands)} differ from the inputs of model '{model.id}' "
                         f"{list(model.bands)} (same names, same order)")


def halo(model: _models.Model) -> int:
    return model.overlap if model.tile_size else 0


def apply(r: Raster, model: _models.Model, probabilities: bool) -> tuple[np.ndarray, np.ndarray]:
    """(bands out, rows, cols) float32 codes or probabilities, and the validity mask."""
    valid = r.mask & np.isfinite(r.data).all(0)
    k = len(model.classes) if probabilities else 1
    out = np.zeros((k, *r.shape), np.float32)
    if model.tile_size:
        return _patches(r, model, probabilities, valid, out)
    if valid.any():
        codes, probs = model.predict(np.ascontiguousarray(r.data[:, valid].T, dtype=np.float32))
        if probabilities:
            out[:, valid] = probs.T
        else:
            out[0, valid] = codes
    return out, valid


def _patches(r: Raster, model, probabilities: bool, valid: np.ndarray, out: np.ndarray):
    t, o = model.tile_size, model.overlap
    core = t - 2 * o
    rows, cols = r.shape
    # the input carries `o` pixels of halo; pad to whole patches (zeros, masked out below)
    ny, nx = -(-(rows - 2 * o) // core), -(-(cols - 2 * o) // core)
    padded = np.zeros((r.data.shape[0], ny * core + 2 * o, nx * core + 2 * o), np.float32)
    padded[:, :rows, :cols] = np.where(valid, r.data, 0)
    for i in range(ny):
        for j in range(nx):
            y, x = i * core, j * core
            codes, probs = model.predict(padded[:, y:y + t, x:x + t])
            part = probs if probabilities else codes[None]
            h, w = min(core, rows - 2 * o - y), min(core, cols - 2 * o - x)
            out[:, o + y:o + y + h, o + x:o + x + w] = part[:, o:o + h, o:o + w]
    edge = np.zeros_like(valid)
    edge[o:rows - o, o:cols - o] = True
    return out, valid & edge
