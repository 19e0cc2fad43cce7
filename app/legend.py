"""Categorical class maps: the legend of a workflow whose result is a `classify` (class output) or
`cluster` node (the model's classes and colours, from its MLM item) or a `reclassify` with a
`legend` (e.g. burn severity classes), and the colours of segments."""
from __future__ import annotations

from typing import Any

import numpy as np

from processes.engine.graph import Node, ProcessNode
from processes.ops import _models


def legend(node: Node) -> list[dict[str, Any]] | None:
    """[{value, name, color}] when the node's result is a class map, else None."""
    if not isinstance(node, ProcessNode):
        return None
    if node.process == "cluster" or (node.process == "classify" and node.params.output == "class"):
        model = _models.get(node.params.model)
        return [{"value": c.value, "name": c.name, "color": c.color} for c in model.classes]
    if node.process == "reclassify" and node.params.legend:
        return [e.model_dump() for e in node.params.legend]
    return None


def class_colours(values: np.ndarray, classes: list[dict[str, Any]]) -> np.ndarray:
    """(rows, cols, 3) uint8: each class value in its colour, anything else grey."""
    rgb = np.full((*values.shape, 3), 128, np.uint8)
    for c in classes:
        h = c["color"].lstrip("#")
        rgb[values == c["value"]] = (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    return rgb


def label_colours(values: np.ndarray) -> np.ndarray:
    """Segments: a colour from each label's bits, so neighbours differ and tiles agree."""
    v = values.astype(np.uint32)
    return np.stack([(v * 2654435761 >> s) & 0xFF for s in (8, 16, 24)], -1).astype(np.uint8) | 0x40
