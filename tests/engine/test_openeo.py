"""Flat (openEO-style) graphs: conversion to nested form, cycles and dangling references named."""
from __future__ import annotations

import pytest

from processes.engine.errors import GraphError
from processes.engine.graph import canonical, parse_process
from processes.engine.openeo import to_nested


def test_flat_graph_equals_nested(dem):
    flat = {"load": {"process_id": "load_collection", "arguments": {"id": "dem"}},
            "hs": {"process_id": "hillshade", "arguments": {"data": {"from_node": "load"}, "z_factor": 3}},
            "sl": {"process_id": "slope", "arguments": {"data": {"from_node": "hs"}}, "result": True}}
    pid, inputs = to_nested(flat)
    a = parse_process(pid, inputs, lambda c: dem)
    b = parse_process("slope", {"data": {"process": "hillshade", "inputs": {"data": {"collection": "dem"}, "z_factor": 3}}},
                      lambda c: dem)
    assert canonical(a) == canonical(b)


def test_cycle_is_named():
    flat = {"a": {"process_id": "slope", "arguments": {"data": {"from_node": "b"}}, "result": True},
            "b": {"process_id": "hillshade", "arguments": {"data": {"from_node": "a"}}}}
    with pytest.raises(GraphError) as e:
        to_nested(flat)
    assert e.value.node == "process_graph.a" and "a -> b -> a" in str(e.value)


@pytest.mark.parametrize("flat, node", [
    ({"a": {"process_id": "slope", "arguments": {"data": {"from_node": "zz"}}, "result": True}}, "process_graph.zz"),
    ({"a": {"process_id": "slope", "arguments": {}}}, "process_graph"),
    ({"a": {"process_id": "load_collection", "arguments": {"id": "dem"}, "result": True}}, "process_graph.a"),
    ({"a": {"process_id": "load_collection", "arguments": {}}, "b": {"process_id": "slope",
      "arguments": {"data": {"from_node": "a"}}, "result": True}}, "process_graph.a"),
])
def test_bad_flat_graphs(flat, node):
    with pytest.raises(GraphError) as e:
        to_nested(flat)
    assert e.value.node == node
