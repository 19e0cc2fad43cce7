"""openEO-style flat process graphs -> the nested (Part 3) form the engine parses.

A flat graph names its nodes and wires them with `{"from_node": id}`; that is where cycles and
dangling references can occur, so they are found here and reported with the node's name.
`load_collection` becomes a collection reference (`id`, `bands`, `temporal_extent`).
"""
from __future__ import annotations

from typing import Any, Mapping

from .errors import GraphError
from .graph import MAX_DEPTH


def is_flat_graph(body: Any) -> bool:
    return isinstance(body, Mapping) and isinstance(body.get("process_graph"), Mapping)


def to_nested(graph: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(root process id, its nested inputs) of a flat graph with exactly one `result: true` node."""
    roots = [k for k, n in graph.items() if isinstance(n, Mapping) and n.get("result") is True]
    if len(roots) != 1:
        raise GraphError(f"a process graph needs exactly one node with \"result\": true, found {len(roots)}", "process_graph")
    doc = _expand(graph, roots[0], [], {})
    if "collection" in doc:
        raise GraphError("the result node must be a process, not load_collection", f"process_graph.{roots[0]}")
    return doc["process"], doc["inputs"]


def _expand(graph: Mapping[str, Any], name: str, stack: list[str], done: dict[str, Any]) -> dict[str, Any]:
    """Nested form of a node; `done` memoises shared nodes (a diamond is expanded once, not 2^n)."""
    where = f"process_graph.{name}"
    if name in done:
        return done[name]
    if len(stack) > MAX_DEPTH:
        raise GraphError(f"process graph deeper than {MAX_DEPTH} nodes", where)
    if name in stack:
        cycle = " -> ".join(stack[stack.index(name):] + [name])
        raise GraphError(f"cycle in the process graph: {cycle}", where)
    node = graph.get(name)
    if not isinstance(node, Mapping) or not isinstance(node.get("process_id"), str):
        raise GraphError("no such node, or it has no 'process_id'", where)
    args = node.get("arguments", {})
    if not isinstance(args, Mapping):
        raise GraphError("'arguments' must be an object", where)
    stack = stack + [name]
    if node["process_id"] == "load_collection":
        doc = _load_collection(args, where)
    else:
        doc = {"process": node["process_id"], "inputs": {k: _value(graph, v, stack, done) for k, v in args.items()}}
    done[name] = doc
    return doc


def _value(graph: Mapping[str, Any], value: Any, stack: list[str], done: dict[str, Any]) -> Any:
    if isinstance(value, Mapping) and set(value) == {"from_node"}:
        return _expand(graph, str(value["from_node"]), stack, done)
    return value


def _load_collection(args: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(args.get("id"), str):
        raise GraphError("load_collection needs a collection 'id'", where)
    out: dict[str, Any] = {"collection": args["id"]}
    if args.get("bands") is not None:
        out["bands"] = args["bands"]
    extent = args.get("temporal_extent")
    if extent is not None:
        if not (isinstance(extent, list) and len(extent) == 2):
            raise GraphError("temporal_extent must be [start, end]", where)
        out["datetime"] = f"{extent[0] or '..'}/{extent[1] or '..'}"
    return out
