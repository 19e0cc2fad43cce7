"""Workflow graphs: parse an OGC API Processes (Part 3 nested) execution request into nodes,
check it against the operation registry and the collections, and give it a stable identity.

A node is either a collection reference or a process with raster inputs and parameters. A named
workflow is expanded into the operations it stands for, at one place (`_expansion`): a workflow
process of `processes.workflows`, or a published one (OGC API - Processes Part 2, deployed by a
user) found through the optional `processes` lookup the caller gives. Nodes are
frozen and hashable: equal sub-graphs are the same dictionary key, so the evaluator computes each
once; the canonical JSON hash names deferred result collections and keys the tile cache.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Union

from pydantic import ValidationError

from ..ops import REGISTRY, Operation, Params
from .datetimes import parse_interval
from .errors import GraphError, UnknownCollection, UnknownProcess
from .filters import canonical_filter, check_properties
from .sources import Source

MAX_DEPTH = 32
MAX_NODES = 256


@dataclass(frozen=True)
class CollectionNode:
    """A reference to a source: optionally some of its bands, the items within a datetime instant
    or interval, and the items matching a CQL2 filter (canonical CQL2 JSON text)."""

    collection: str
    bands: tuple[str, ...] | None = None
    datetime: str | None = None
    filter: str | None = None


@dataclass(frozen=True)
class ProcessNode:
    process: str
    inputs: tuple[tuple[str, "Node"], ...]
    params: Params

    @property
    def op(self) -> Operation:
        return REGISTRY[self.process]

    def input(self, name: str) -> "Node":
        return dict(self.inputs)[name]


Node = Union[CollectionNode, ProcessNode]
# Resolves a collection id to what the engine can read, or to the graph of a virtual collection.
Resolver = Callable[[str], Union[Source, Node]]


class Published(Protocol):
    """A published workflow (e.g. processes.deployed.Deployed): its graph for some inputs."""

    def expand(self, values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """(root process id, its inputs) with the placeholders filled (GraphError for unknown inputs)."""
        ...


# Finds a published process by id (None: there is none); without one, only built-in ids are known.
Processes = Callable[[str], Union[Published, None]]


@dataclass
class _Parse:
    """What one parse carries down the graph: the lookups and the count of process nodes so far."""

    resolve: Resolver
    processes: Processes | None
    nodes: int = 0


def last_segment(ref: str, kind: str, path: str = "") -> str:
    """'http://host/x/collections/dem' or 'dem' -> 'dem'. Never fetched: references are local ids."""
    ref = ref.split("?", 1)[0].rstrip("/")
    marker = f"/{kind}/"
    if marker in ref:
        return ref.rsplit(marker, 1)[1].split("/", 1)[0]
    if "/" in ref or ":" in ref:
        raise GraphError(f"'{ref}' is not a reference to a local {kind[:-1]} (remote {kind} are not fetched)", path)
    return ref


def parse_process(process_id: str, inputs: Mapping[str, Any], resolve: Resolver, path: str = "",
                  processes: Processes | None = None) -> ProcessNode:
    """Build a ProcessNode from a process id and its execution `inputs`, validating everything;
    `processes` finds published processes (by id, at any depth) when given."""
    return _process(process_id, inputs, _Parse(resolve, processes), path or process_id, 0)


def parse_node(doc: Any, resolve: Resolver, path: str = "graph", processes: Processes | None = None) -> Node:
    """A node from its JSON form: a process (with inputs) or a collection reference."""
    return _node(doc, _Parse(resolve, processes), path, 0)


def _process(pid: str, inputs: Any, p: _Parse, path: str, depth: int) -> ProcessNode:
    p.nodes += 1
    if depth > MAX_DEPTH or p.nodes > MAX_NODES:
        raise GraphError(f"graph deeper than {MAX_DEPTH} or larger than {MAX_NODES} nodes "
                         "(or published processes nesting each other)", path)
    op = REGISTRY.get(pid)
    if op is None:  # a named workflow: the graph of operations it stands for
        node = _node(_expansion(pid, inputs, p, path), p, path, depth)
        if not isinstance(node, ProcessNode):
            raise GraphError(f"workflow '{pid}' did not expand into a process", path)
        return node
    if not isinstance(inputs, Mapping):
        raise GraphError("'inputs' must be an object", path)
    raster_inputs: dict[str, Node] = {}
    params: dict[str, Any] = {}
    for name, value in inputs.items():
        where = f"{path}.inputs.{name}"
        if name in op.inputs:
            raster_inputs[name] = _node(value, p, where, depth + 1)
        else:
            params[name] = _literal(value)
    missing = [n for n, spec in op.inputs.items() if n not in raster_inputs and not spec.optional]
    if missing:
        raise GraphError(f"missing input(s) {', '.join(missing)}", path)
    try:
        validated = op.params(**params)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise GraphError(f"{err['msg']}", f"{path}.inputs.{loc}" if loc else path) from None
    node = ProcessNode(pid, tuple(sorted(raster_inputs.items())), validated)
    check_types(node, p.resolve, path)
    return node


def _expansion(pid: str, inputs: Any, p: _Parse, path: str) -> Any:
    """The graph (JSON) of a workflow process, or of a published process, for these inputs."""
    from ..workflows import WORKFLOWS  # workflows expand into operations (imported late: they use the engine)

    workflow = WORKFLOWS.get(pid)
    if workflow is not None:
        return workflow.graph(inputs, p.resolve, path)
    published = p.processes(pid) if p.processes is not None else None
    if published is None:
        raise UnknownProcess(f"unknown process '{pid}'", path)
    if not isinstance(inputs, Mapping):
        raise GraphError("'inputs' must be an object", path)
    try:
        root, expanded = published.expand(inputs)
    except GraphError as e:
        raise GraphError(e.reason, f"{path}.inputs") from None
    return {"process": root, "inputs": expanded}


def _literal(value: Any) -> Any:
    """OGC allows {"value": x} or {"qualifiedValue"...}: unwrap the plain value form."""
    if isinstance(value, Mapping) and set(value) == {"value"}:
        return value["value"]
    return value


def _node(value: Any, p: _Parse, path: str, depth: int) -> Node:
    if isinstance(value, Mapping) and "process" in value:
        pid = last_segment(str(value["process"]), "processes", path)
        return _process(pid, value.get("inputs", {}), p, path, depth)
    if isinstance(value, Mapping) and ("collection" in value or "href" in value):
        ref = value.get("collection") or value.get("href")
        cid = last_segment(str(ref), "collections", path)
        target = _resolve(p.resolve, cid, path)
        if isinstance(target, (CollectionNode, ProcessNode)):
            return target  # a virtual collection: inline its graph
        return source_node(target, cid, value.get("bands") or value.get("properties"), value.get("datetime"),
                           value.get("filter"), value.get("filter-lang"), path)
    raise GraphError("expected a raster input: {\"collection\": ...} or {\"process\": ..., \"inputs\": ...}", path)


def source_node(target: Source, cid: str, bands: Any, datetime: Any, filter: Any, filter_lang: Any,
                path: str) -> CollectionNode:
    """A validated reference to a source: known bands, a valid datetime, a valid filter on known
    properties, and at least one item selected (an empty selection is an error, not a blank map)."""
    if bands is not None:
        if isinstance(bands, str):
            bands = [b.strip() for b in bands.split(",") if b.strip()]
        if not isinstance(bands, list) or not bands or not all(isinstance(b, str) for b in bands):
            raise GraphError("'bands' must be a list of band names", f"{path}.bands")
        unknown = [b for b in bands if b not in target.band_names]
        if unknown:
            raise GraphError(f"band(s) {unknown} not in collection '{cid}' (has {list(target.band_names)})",
                             f"{path}.bands")
        bands = tuple(bands)
    if datetime is not None:
        parse_interval(datetime, f"{path}.datetime")
    if filter is not None:
        if filter_lang not in (None, "cql2-text", "cql2-json"):
            raise GraphError("filter-lang must be 'cql2-text' or 'cql2-json'", f"{path}.filter-lang")
        filter = canonical_filter(filter, filter_lang, f"{path}.filter")
        check_properties(filter, target.queryables(), f"{path}.filter")
    if (datetime or filter) and not target.select(datetime, filter):
        what = " and ".join(x for x in (f"datetime {datetime}" if datetime else "", "the filter" if filter else "") if x)
        raise GraphError(f"no item of collection '{cid}' matches {what}", path)
    return CollectionNode(cid, bands, datetime, filter)


def _resolve(resolve: Resolver, cid: str, path: str) -> Source | Node:
    try:
        return resolve(cid)
    except (KeyError, UnknownCollection):
        raise UnknownCollection(f"unknown collection '{cid}'", path) from None


def output_bands(node: Node, resolve: Resolver) -> tuple[str, ...]:
    if isinstance(node, CollectionNode):
        target = resolve(node.collection)
        if isinstance(target, (CollectionNode, ProcessNode)):
            return node.bands or output_bands(target, resolve)
        return node.bands or target.band_names
    bands_in = {name: output_bands(child, resolve) for name, child in node.inputs}
    return node.op.bands_out(bands_in, node.params)


def is_series(node: Node, resolve: Resolver) -> bool:
    if isinstance(node, CollectionNode):
        target = resolve(node.collection)
        return not isinstance(target, (CollectionNode, ProcessNode)) and target.is_series
    return False


def check_types(node: ProcessNode, resolve: Resolver, path: str) -> None:
    """Input kinds and band counts must fit the operation; ops may add their own checks."""
    op = node.op
    bands_in: dict[str, tuple[str, ...]] = {}
    for name, child in node.inputs:
        spec = op.inputs[name]
        if spec.kind == "series" and not is_series(child, resolve):
            raise GraphError(f"input '{name}' must be a time series collection, got a single raster", f"{path}.inputs.{name}")
        bands = output_bands(child, resolve)
        if spec.bands is not None and len(bands) != spec.bands:
            raise GraphError(f"input '{name}' needs {spec.bands} band(s), got {len(bands)} {list(bands)}", f"{path}.inputs.{name}")
        bands_in[name] = bands
    if op.check is not None:
        try:
            op.check(bands_in, node.params)
        except ValueError as e:
            raise GraphError(str(e), path) from None


def canonical(node: Node) -> dict[str, Any]:
    """Canonical JSON form: defaults filled in, inputs sorted, references by id."""
    if isinstance(node, CollectionNode):
        out: dict[str, Any] = {"collection": node.collection}
        if node.bands:
            out["bands"] = list(node.bands)
        if node.datetime:
            out["datetime"] = node.datetime
        if node.filter:
            out["filter"] = json.loads(node.filter)
            out["filter-lang"] = "cql2-json"
        return out
    inputs: dict[str, Any] = node.params.model_dump(mode="json")
    inputs.update({name: canonical(child) for name, child in node.inputs})
    return {"process": node.process, "inputs": inputs}


def graph_hash(node: Node, versions: Mapping[str, str] | None = None) -> str:
    """Stable id of a graph: the same request gives the same id, in every process and restart."""
    text = json.dumps(canonical(node), sort_keys=True, separators=(",", ":"))
    if versions:
        text += json.dumps(dict(sorted(versions.items())), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def collections_of(node: Node) -> set[str]:
    if isinstance(node, CollectionNode):
        return {node.collection}
    return set().union(*(collections_of(c) for _, c in node.inputs)) if node.inputs else set()
