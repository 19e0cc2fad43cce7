"""An ONNX model file run by onnxruntime, with the description operations need (`ops._models.Model`).

Only ONNX is ever loaded (a model graph, not code: unlike a pickle, opening it cannot run
anything). Sessions are created lazily, one per process, single-threaded: tiles and chunks are
already parallel across threads and processes, and onnxruntime's own pool would oversubscribe
the cores. A file that is not a loadable ONNX model raises ModelError naming the problem.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnxruntime as ort

from ..ops._models import ModelClass


class ModelError(ValueError):
    """A model file or description the service cannot use (a 400 where a client gave it)."""


def open_session(source: str | Path | bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(source if isinstance(source, bytes) else str(source), opts,
                                    providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own Fail/InvalidProtobuf/... classes
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ModelError(f"not a valid ONNX model ({first})") from None


@dataclass
class OnnxModel:
    """A stored model: the file and its declared inputs and outputs."""

    id: str
    path: Path
    kind: Literal["classifier", "clusterer"]
    bands: tuple[str, ...]
    classes: tuple[ModelClass, ...]
    tile_size: int | None = None
    overlap: int = 0
    output: str | None = None  # the output holding class codes (default: the first)
    scores: str | None = None  # the output holding probabilities/scores, if any
    _session: Any = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def session(self) -> ort.InferenceSession:
        with self._lock:
            if self._session is None:
                self._session = open_session(self.path)
            return self._session

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        s = self.session()
        feed = {s.get_inputs()[0].name: x[None] if self.tile_size else x}
        names = [o.name for o in s.get_outputs()]
        wanted = [self.output or names[0]] + ([self.scores] if self.scores else [])
        out = s.run(wanted, feed)
        codes = np.asarray(out[0])
        probs = np.asarray(out[1], np.float32) if self.scores else None
        if self.tile_size:
            return self._patch(codes, probs)
        codes = codes.reshape(len(x))
        return self._codes(codes), probs

    def _codes(self, raw: np.ndarray) -> np.ndarray:
        """Model outputs -> class values (k-means numbers its clusters 0..k-1: shown as 1..k)."""
        if self.kind == "clusterer":
            return raw.astype(np.float32) + 1
        return raw.astype(np.float32)

    def _patch(self, codes: np.ndarray, probs: np.ndarray | None):
        t = self.tile_size
        if probs is not None:
            probs = probs.reshape(-1, t, t)
        if codes.ndim >= 3 and codes.shape[-3] == len(self.classes) and codes.size == len(self.classes) * t * t:
            scores = codes.reshape(len(self.classes), t, t)  # scores per class: the code is the argmax
            values = np.array([c.value for c in self.classes], np.float32)
            return values[scores.argmax(0)], probs if probs is not None else scores.astype(np.float32)
        return codes.reshape(t, t).astype(np.float32), probs
