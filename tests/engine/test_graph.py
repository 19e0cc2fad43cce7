"""Graph parsing, validation errors that name the node, and stable hashing."""
from __future__ import annotations

import pytest

from processes.engine.errors import GraphError, UnknownCollection, UnknownProcess
from processes.engine.graph import CollectionNode, canonical, graph_hash, parse_process


@pytest.fixture
def resolve(dem):
    return lambda cid: {"dem": dem}[cid]


def test_nested_graph_parses_and_fills_defaults(resolve):
    node = parse_process("slope", {"data": {"process": "http://h/processes/hillshade",
                                            "inputs": {"data": {"collection": "http://h/collections/dem"}, "azimuth": 200}}},
                         resolve)
    doc = canonical(node)
    assert doc == {"process": "slope", "inputs": {"z_factor": 1.0, "data": {
        "process": "hillshade", "inputs": {"azimuth": 200.0, "altitude": 45.0, "z_factor": 1.0,
                                           "data": {"collection": "dem"}}}}}


def test_hash_is_stable_and_ignores_spelling(resolve):
    a = parse_process("hillshade", {"data": {"collection": "dem"}, "azimuth": 315}, resolve)
    b = parse_process("hillshade", {"azimuth": {"value": 315.0}, "data": {"href": "/collections/dem"}}, resolve)
    c = parse_process("hillshade", {"data": {"collection": "dem"}, "azimuth": 300}, resolve)
    assert graph_hash(a) == graph_hash(b) != graph_hash(c)
    assert a == b and hash(a) == hash(b)


@pytest.mark.parametrize("inputs, exc, node", [
    ({"data": {"process": "nope", "inputs": {}}}, UnknownProcess, "hillshade.inputs.data"),
    ({"data": {"collection": "missing"}}, UnknownCollection, "hillshade.inputs.data"),
    ({}, GraphError, "hillshade"),
    ({"data": {"collection": "dem"}, "azimuth": 400}, GraphError, "hillshade.inputs.azimuth"),
    ({"data": {"collection": "dem"}, "azimut": 10}, GraphError, "hillshade.inputs.azimut"),
    ({"data": 5}, GraphError, "hillshade.inputs.data"),
    ({"data": {"collection": "dem", "bands": ["B04"]}}, GraphError, "hillshade.inputs.data"),
    ({"data": {"collection": "https://evil.example/collections/x/../y"}}, UnknownCollection, "hillshade.inputs.data"),
    ({"data": {"collection": "https://evil.example/data.tif"}}, GraphError, "hillshade.inputs.data"),
])
def test_bad_graphs_name_the_node(resolve, inputs, exc, node):
    assert node, "every case names the node its error must point at"
    with pytest.raises(exc) as e:
        parse_process("hillshade", inputs, resolve)
    assert e.value.node == node or e.value.node.startswith(node + "."), e.value.node


def test_depth_limit(resolve):
    inner = {"collection": "dem"}
    for _ in range(40):
        inner = {"process": "slope", "inputs": {"data": inner}}
    with pytest.raises(GraphError, match="deeper"):
        parse_process("slope", {"data": inner}, resolve)


def test_collection_node_bands(resolve):
    node = parse_process("slope", {"data": {"collection": "dem", "bands": ["elevation"]}}, resolve)
    assert node.input("data") == CollectionNode("dem", ("elevation",), None)


def test_published_processes_expand_through_the_lookup_given(resolve):
    from processes.deployed import package

    relief = package({"processDescription": {"id": "relief", "inputs": {"azimuth": {"schema": {"default": 315}}}},
                      "executionUnit": {"value": {"process": "hillshade", "inputs": {
                          "data": {"collection": "dem"}, "azimuth": {"$input": "azimuth"}, "z_factor": 3}}}})
    nested = {"data": {"process": "relief", "inputs": {"azimuth": 90}}}
    inline = {"data": {"process": "hillshade", "inputs": {"data": {"collection": "dem"}, "azimuth": 90, "z_factor": 3}}}
    node = parse_process("slope", nested, resolve, processes={"relief": relief}.get)
    assert canonical(node) == canonical(parse_process("slope", inline, resolve))
    with pytest.raises(UnknownProcess, match="relief") as e:  # without the lookup, only built-in ids are known
        parse_process("slope", nested, resolve)
    assert e.value.node == "slope.inputs.data"
    with pytest.raises(GraphError, match="azimut") as e:
        parse_process("slope", {"data": {"process": "relief", "inputs": {"azimut": 1}}}, resolve,
                      processes={"relief": relief}.get)
    assert e.value.node == "slope.inputs.data.inputs"
