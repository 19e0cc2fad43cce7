"""OGC process descriptions, derived from each operation's (or analysis's) declaration and parameter model."""
from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from .analysis import ANALYSES, Analysis
from .execute import OUTPUTS
from .ops import REGISTRY, Operation
from .workflows import WORKFLOWS, Workflow
from .zonal import encode

CONTROL = ["sync-execute", "async-execute", "dismiss"]
RASTER_INPUT_SCHEMA = {
    "oneOf": [
        {"type": "object", "required": ["collection"],
         "properties": {"collection": {"type": "string", "format": "uri-reference"},
                        "bands": {"type": "array", "items": {"type": "string"}},
                        "datetime": {"type": "string"},
                        "filter": {"description": "CQL2 filter on the items' properties (e.g. eo:cloud_cover < 20)",
                                   "oneOf": [{"type": "string"}, {"type": "object"}]},
                        "filter-lang": {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"}}},
        {"type": "object", "required": ["process"],
         "properties": {"process": {"type": "string", "format": "uri-reference"}, "inputs": {"type": "object"}}},
        {"type": "object", "required": ["href"], "properties": {"href": {"type": "string", "format": "uri-reference"}}},
    ]
}
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_FOUR = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}
REGION = {
    "bbox": {"title": "Region to compute",
             "description": "Needed for sync/async results; not for response=collection. One region per execution: "
                            "given here or in a nested process (regions given in several places must agree).",
             "minOccurs": 0, "schema": {"oneOf": [  # the OGC bounding box object, or its plain array (CRS84)
                 {"type": "object", "format": "ogc-bbox", "required": ["bbox"],
                  "properties": {"bbox": _FOUR, "crs": {"type": "string", "format": "uri", "default": CRS84}}},
                 _FOUR]}},
    "crs": {"title": "Output CRS", "description": "Defaults to the bbox CRS.", "minOccurs": 0,
            "schema": {"type": "string", "format": "uri"}},
    "width": {"title": "Output width in pixels", "minOccurs": 0, "schema": {"type": "integer", "minimum": 1, "default": 512}},
    "height": {"title": "Output height in pixels", "description": "Defaults to keep the bbox aspect ratio.",
               "minOccurs": 0, "schema": {"type": "integer", "minimum": 1}},
    "resolution": {"title": "Output pixel size in output CRS units", "description": "Instead of width/height.",
                   "minOccurs": 0, "schema": {"type": "number", "exclusiveMinimum": 0}},
}
OUTPUT_DOCS = {
    "result": {"title": "Computed raster", "schema": {"type": "string", "contentEncoding": "binary",
                                                      "contentMediaType": OUTPUTS["result"]}},
    "statistics": {"title": "Statistics per band", "schema": {"type": "object", "contentMediaType": "application/json"}},
}


ANALYSIS_OUTPUTS = {"result": {
    "title": "Statistics per feature and date",
    "description": "GeoJSON features carrying their time series (default), CSV or GeoParquet (one row per feature "
                   "and date), or NDJSON streamed feature by feature: choose with outputs.result.format.mediaType.",
    "schema": {"oneOf": [{"type": "object", "contentMediaType": encode.GEOJSON},
                         {"type": "string", "contentMediaType": encode.CSV},
                         {"type": "string", "contentMediaType": encode.NDJSON},
                         {"type": "string", "contentEncoding": "binary", "contentMediaType": encode.PARQUET}]}}}


def _param_inputs(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    out = {}
    for name, prop in schema.get("properties", {}).items():
        title = prop.pop("title", name)
        desc = prop.pop("description", "")
        if defs and '"$ref"' in json.dumps(prop):
            prop = {**prop, "$defs": defs}
        out[name] = {"title": title, "description": desc, "schema": prop,
                     "minOccurs": 0 if name not in schema.get("required", []) else 1, "maxOccurs": 1}
    return out


def summary(op: Operation | Analysis | Workflow, base: str) -> dict[str, Any]:
    url = f"{base}/processes/{op.id}"
    return {"id": op.id, "title": op.title, "description": op.description, "version": "1.0.0",
            "keywords": list(op.keywords), "jobControlOptions": CONTROL, "outputTransmission": ["value", "reference"],
            "links": [{"href": url, "rel": "self", "type": "application/json", "title": "Process description"},
                      {"href": f"{url}/execution", "rel": "http://www.opengis.net/def/rel/ogc/1.0/execute",
                       "type": "application/json", "title": "Execute"}]}


def description(op: Operation | Analysis | Workflow, base: str) -> dict[str, Any]:
    if isinstance(op, Workflow):
        return summary(op, base) | {"inputs": _param_inputs(op.params) | REGION, "outputs": OUTPUT_DOCS}
    if isinstance(op, Analysis):
        outputs = op.outputs or ANALYSIS_OUTPUTS
        if op.params is not None:
            return summary(op, base) | {"inputs": _param_inputs(op.params), "outputs": outputs}
        rasters = {name: {"title": title, "minOccurs": low, "maxOccurs": 1, "schema": RASTER_INPUT_SCHEMA}
                   for name, (title, low) in (op.rasters or {}).items()}
        return summary(op, base) | {"inputs": rasters | REGION, "outputs": outputs}
    inputs: dict[str, Any] = {}
    for name, spec in op.inputs.items():
        kind = "time series collection" if spec.kind == "series" else "raster"
        inputs[name] = {"title": spec.title, "description": f"A {kind}: a local collection, or a nested process.",
                        "minOccurs": 0 if spec.optional else 1, "maxOccurs": 1, "schema": RASTER_INPUT_SCHEMA}
    inputs.update(_param_inputs(op.params))
    inputs.update(REGION)
    return summary(op, base) | {"inputs": inputs, "outputs": OUTPUT_DOCS}


def all_summaries(base: str, deployed: list[Any] = ()) -> list[dict[str, Any]]:
    return [summary(op, base) for op in (*REGISTRY.values(), *WORKFLOWS.values(), *ANALYSES.values())] + \
        [deployed_summary(d, base) for d in deployed]


def deployed_summary(d: Any, base: str) -> dict[str, Any]:
    """A process deployed from a workflow (processes.deployed.Deployed): listed like a built-in one,
    with links to its workflow and to the collection its defaults define."""
    url = f"{base}/processes/{d.id}"
    return {"id": d.id, "title": d.title, "description": d.description, "version": d.version,
            "keywords": ["workflow", "deployed"], "jobControlOptions": CONTROL, "outputTransmission": ["value", "reference"],
            "links": [{"href": url, "rel": "self", "type": "application/json", "title": "Process description"},
                      {"href": f"{url}/execution", "rel": "http://www.opengis.net/def/rel/ogc/1.0/execute",
                       "type": "application/json", "title": "Execute"},
                      {"href": f"{url}/package", "rel": "http://www.opengis.net/def/rel/ogc/1.0/application-package",
                       "type": "application/ogcapppkg+json", "title": "Application package (the workflow)"},
                      {"href": f"{base}/collections/{d.id}", "rel": "http://www.opengis.net/def/rel/ogc/1.0/data",
                       "type": "application/json", "title": "The workflow with its default inputs, as a collection"}]}


def deployed_description(d: Any, base: str) -> dict[str, Any]:
    return deployed_summary(d, base) | {"inputs": dict(d.inputs) | REGION, "outputs": OUTPUT_DOCS}
