"""The accuracy report of a trained classifier on its held-out polygons (scikit-learn's metrics)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix, precision_recall_fscore_support

from ..ops._models import ModelClass


def accuracy_report(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[ModelClass],
                    polygons: int, train: dict[str, int]) -> dict[str, Any]:
    """Confusion matrix (rows: reference, columns: predicted), overall accuracy, Cohen's kappa and
    per-class precision, recall, F1 and support, on validation pixels of held-out polygons."""
    labels = [c.value for c in classes]
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    p, r, f, n = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "overall_accuracy": float(accuracy_score(y_true, y_pred)),
        "kappa": float(cohen_kappa_score(y_true, y_pred, labels=labels)),
        "classes": [{"value": c.value, "name": c.name, "color": c.color, "precision": float(pi), "recall": float(ri),
                     "f1": float(fi), "support": int(ni)} for c, pi, ri, fi, ni in zip(classes, p, r, f, n)],
        "confusion_matrix": {"labels": [c.name for c in classes], "rows": "reference", "columns": "predicted",
                             "matrix": cm.tolist()},
        "validation": {"pixels": int(len(y_true)), "polygons": int(polygons)},
        "training": train,
    }
