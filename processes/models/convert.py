"""Fitted scikit-learn estimators -> ONNX bytes (skl2onnx), with plain tensor outputs.

Classifiers export `label` (int64 class codes) and `probabilities` (n x classes, no ZipMap
dictionaries); k-means exports `label` and `scores` (distances). skl2onnx 1.20 writes a Python
bool into an int attribute for the leaves of HistGradientBoosting trees, which onnx 1.23 rejects;
`_int_missing_tracks` casts it where it is made (the value is 0/1 either way).
"""
from __future__ import annotations

import functools

import numpy as np
from skl2onnx import to_onnx
from skl2onnx.common import tree_ensemble

TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


def _int_missing_tracks(add_node):
    @functools.wraps(add_node)
    def wrapper(*args, **kwargs):
        if "nodes_missing_value_tracks_true" in kwargs:
            kwargs["nodes_missing_value_tracks_true"] = int(kwargs["nodes_missing_value_tracks_true"])
        return add_node(*args, **kwargs)
    wrapper._geodeferred = True
    return wrapper


if not getattr(tree_ensemble.add_node, "_geodeferred", False):
    tree_ensemble.add_node = _int_missing_tracks(tree_ensemble.add_node)


def to_onnx_bytes(estimator, n_features: int) -> bytes:
    sample = np.zeros((1, n_features), np.float32)
    options = {id(estimator): {"zipmap": False}} if hasattr(estimator, "predict_proba") else None
    model = to_onnx(estimator, sample, options=options, target_opset=TARGET_OPSET)
    return model.SerializeToString()
