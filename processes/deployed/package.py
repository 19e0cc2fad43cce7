"""Workflows shared as processes (OGC API - Processes Part 2 deploy/replace/undeploy, with a Part 3
workflow as the execution unit): the application package and the `{"$input": name}` substitution.

A deployed process is an OGC application package whose execution unit is a Part 3 execution
request (`{"process": ..., "inputs": ...}`) in which any value may be a placeholder
`{"$input": "name"}`. Its inputs are described from where the placeholders sit (a parameter of
an operation takes that parameter's schema, a raster input the raster input schema); every
placeholder has a default (the value it had when published), so the process is also a named
collection whose tiles open with no input at all. The stores are in `store` (files) and `pg`.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..engine.errors import GraphError
from ..ogc import RASTER_INPUT_SCHEMA, REGION
from ..ops import REGISTRY

ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
MAX_PACKAGE = 256_000
WORKFLOW_MEDIA = "application/ogcexec+json"
COLLECTION_KEYS = {"collection": {"type": "string"}, "datetime": {"type": "string"},
                   "bands": {"type": "array", "items": {"type": "string"}}, "filter": {"oneOf": [{"type": "string"}, {"type": "object"}]}}


class DeployError(GraphError):
    """An application package that cannot be deployed (400)."""


class DuplicateProcess(Exception):
    """POST of an id that exists (409)."""


class ImmutableProcess(Exception):
    """Replace or undeploy of a built-in process (403)."""


class NoSuchDeployed(Exception):
    """Replace, undeploy or describe of an id nobody deployed (404)."""


@dataclass(frozen=True)
class Deployed:
    id: str
    title: str
    description: str
    version: str
    workflow: dict[str, Any]  # {"process": ..., "inputs": ...} with placeholders
    inputs: dict[str, dict[str, Any]]  # name -> OGC input description (schema.default = the default)
    digest: str  # of the stored document: names this version (node caches, tile cache keys)

    @property
    def process(self) -> str:
        return self.workflow["process"]

    def defaults(self) -> dict[str, Any]:
        return {k: v["schema"]["default"] for k, v in self.inputs.items()}

    def expand(self, values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """(root process id, its inputs) with every placeholder replaced by `values` or its default."""
        unknown = sorted(set(values) - set(self.inputs))
        if unknown:
            raise GraphError(f"unknown input(s) {unknown}; process '{self.id}' has {sorted(self.inputs)}", f"{self.id}.inputs")
        filled = self.defaults() | dict(values)
        return self.process, _substitute(self.workflow, filled)["inputs"]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "description": self.description, "version": self.version,
                "workflow": self.workflow, "inputs": self.inputs}


def placeholders(doc: Any, where: str = "") -> dict[str, list[str]]:
    """name -> the paths where `{"$input": name}` occurs (e.g. 'hillshade.inputs.azimuth')."""
    found: dict[str, list[str]] = {}
    todo = [(doc, where)]
    while todo:
        value, path = todo.pop()
        if isinstance(value, Mapping):
            if set(value) == {"$input"}:
                name = value["$input"]
                if not isinstance(name, str) or not ID.match(name):
                    raise DeployError("a placeholder is {\"$input\": \"name\"} with a name like 'azimuth'", path)
                found.setdefault(name, []).append(path)
                continue
            todo += [(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()]
        elif isinstance(value, list):
            todo += [(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return found


def _substitute(doc: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(doc, Mapping):
        if set(doc) == {"$input"}:
            return copy.deepcopy(values[doc["$input"]])
        return {k: _substitute(v, values) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_substitute(v, values) for v in doc]
    return doc


def _schema_at(workflow: Mapping[str, Any], path: str) -> tuple[dict[str, Any], str]:
    """The JSON schema and title of the value a placeholder stands for, from the operation it feeds."""
    parts = path.split(".")
    node: Any = workflow
    op = None
    for i, key in enumerate(parts):
        if isinstance(node, Mapping) and "process" in node and key == "inputs":
            op = REGISTRY.get(str(node["process"]).rstrip("/").rsplit("/", 1)[-1])
        if i == len(parts) - 1:
            break
        node = node.get(key) if isinstance(node, Mapping) else None
    name = parts[-1]
    if isinstance(node, Mapping) and "process" not in node and name in COLLECTION_KEYS:
        return dict(COLLECTION_KEYS[name]), f"Collection {name}"
    if op is not None and name in op.inputs:
        return copy.deepcopy(RASTER_INPUT_SCHEMA), op.inputs[name].title
    if op is not None:
        prop = op.params.model_json_schema().get("properties", {}).get(name)
        if prop is not None:
            prop = copy.deepcopy(prop)
            return {k: v for k, v in prop.items() if k not in ("title", "description", "default")}, \
                prop.get("description") or prop.get("title", name)
    return {}, name


def package(body: Any, pid: str | None = None) -> Deployed:
    """An OGC application package -> a Deployed (structure only; `validate` checks the graph)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("processDescription"), Mapping):
        raise DeployError("expected an OGC application package: {\"processDescription\": {...}, \"executionUnit\": {...}}")
    desc = body["processDescription"]
    pid = pid or desc.get("id")
    if not isinstance(pid, str) or not ID.match(pid):
        raise DeployError("processDescription.id must be a name like 'ndvi-summer' (letters, digits, - _ .)",
                          "processDescription.id")
    if desc.get("id", pid) != pid:
        raise DeployError(f"processDescription.id '{desc.get('id')}' differs from the process replaced ('{pid}')",
                          "processDescription.id")
    unit = body.get("executionUnit")
    if isinstance(unit, list) and len(unit) == 1:
        unit = unit[0]
    if not isinstance(unit, Mapping) or not isinstance(unit.get("value"), Mapping):
        raise DeployError("executionUnit must be {\"value\": <Part 3 workflow>, \"mediaType\": "
                          f"\"{WORKFLOW_MEDIA}\"}}", "executionUnit")
    workflow = unit["value"]
    if not isinstance(workflow.get("process"), str) or not isinstance(workflow.get("inputs", {}), Mapping):
        raise DeployError("the workflow must be {\"process\": id, \"inputs\": {...}}", "executionUnit.value")
    workflow = {"process": workflow["process"].rstrip("/").rsplit("/", 1)[-1], "inputs": dict(workflow.get("inputs", {}))}
    given = desc.get("inputs") or {}
    if not isinstance(given, Mapping):
        raise DeployError("processDescription.inputs must be an object", "processDescription.inputs")
    found = placeholders(workflow)
    extra = sorted(set(given) - set(found))
    if extra:
        raise DeployError(f"input(s) {extra} described but not used as {{\"$input\": ...}} in the workflow",
                          "processDescription.inputs")
    clash = sorted(set(found) & set(REGION))
    if clash:
        raise DeployError(f"input name(s) {clash} are reserved for the region to compute", "processDescription.inputs")
    inputs = {}
    for name, paths in sorted(found.items()):
        schema, title = _schema_at(workflow, paths[0])
        g = given.get(name) or {}
        if not isinstance(g, Mapping) or "default" not in (g.get("schema") or {}):
            raise DeployError(f"input '{name}' needs a default value (schema.default): the process is also a "
                              "collection, whose tiles use the defaults", f"processDescription.inputs.{name}")
        inputs[name] = {"title": str(g.get("title") or title), "description": str(g.get("description") or ""),
                        "minOccurs": 0, "maxOccurs": 1, "schema": schema | {"default": g["schema"]["default"]}}
    text = json.dumps({"workflow": workflow, "inputs": inputs, "d": [desc.get("title"), desc.get("description")]},
                      sort_keys=True)
    return Deployed(pid, str(desc.get("title") or pid), str(desc.get("description") or ""), str(desc.get("version") or "1.0.0"),
                    workflow, inputs, hashlib.sha256(text.encode()).hexdigest()[:24])


def process_ids(doc: Any) -> set[str]:
    """Every process id a workflow (JSON) names, at any depth."""
    found: set[str] = set()
    todo = [doc]
    while todo:
        value = todo.pop()
        if isinstance(value, Mapping):
            if isinstance(value.get("process"), str):
                found.add(value["process"].rstrip("/").rsplit("/", 1)[-1])
            todo += list(value.values())
        elif isinstance(value, list):
            todo += value
    return found


def validate(d: Deployed, parse: Callable[[str, Mapping[str, Any]], Any]) -> None:
    """The workflow with its defaults must be a valid graph (`parse` raises GraphError naming the
    node; its root and nested processes may be built-in, workflow or other published processes)."""
    try:
        parse(*d.expand({}))
    except GraphError as e:  # name the input whose default sits where the graph is wrong
        for name, paths in placeholders(d.workflow).items():
            if any(e.node.startswith(f"{d.process}.{p}") for p in paths):
                raise type(e)(f"{e.reason} (the default of input '{name}')", e.node) from None
        raise
