"""Queryables (JSON Schema) of the exported items: the properties a CQL2 filter or a sort may name.

The embedded backend has no schema of its own (stac-fastapi's default answers no property), so
its filter extension gets this client; the same names check every backend's filters (`checks`).
"""
from __future__ import annotations

from typing import Any

from stac_fastapi.extensions.core.filter.client import BaseFiltersClient

from .export import Export

JSON_TYPES = ((bool, "boolean"), (int, "number"), (float, "number"), (str, "string"), (list, "array"), (dict, "object"))
CORE = {
    "id": {"title": "Item id", "type": "string"},
    "collection": {"title": "Collection id", "type": "string"},
    "datetime": {"title": "Acquisition time", "type": "string", "format": "date-time"},
    "geometry": {"title": "Footprint", "type": "object"},
}


def _type(value: Any) -> str:
    return next((name for cls, name in JSON_TYPES if isinstance(value, cls)), "string")


def schema(export: Export, collection_id: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = dict(CORE)
    for item in export.items:
        if collection_id is None or item.get("collection") == collection_id:
            for key, value in item.get("properties", {}).items():
                props.setdefault(key, {"title": key, "type": _type(value)})
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "title": f"Queryables of {collection_id or 'every collection'}", "properties": props,
            "additionalProperties": False}


def names(export: Export) -> set[str]:
    return set(schema(export)["properties"])


class ExportFiltersClient(BaseFiltersClient):
    def __init__(self, export: Export) -> None:
        self.export = export

    def get_queryables(self, collection_id: str | None = None, **kwargs: Any) -> dict[str, Any]:
        doc = schema(self.export, collection_id)
        doc["$id"] = str(kwargs["request"].url).split("?")[0] if "request" in kwargs else "queryables"
        return doc
