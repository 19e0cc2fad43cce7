"""CQL2 filters on STAC items (text or JSON), parsed once by the `cql2` library.

A filter names item properties (`eo:cloud_cover < 20`), `id`, `datetime` or the geometry; a
property no item has is an error naming it, rather than a filter that silently matches nothing.
Filters are kept as canonical CQL2 JSON text, so equal filters give equal graph hashes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

import cql2

from .errors import GraphError


class FilterError(GraphError):
    pass


def canonical_filter(value: Any, lang: str | None = None, where: str = "filter") -> str:
    """A CQL2 text string or JSON object -> canonical CQL2 JSON text."""
    try:
        if isinstance(value, dict) or lang == "cql2-json":
            expr = cql2.parse_json(value if isinstance(value, str) else json.dumps(value))
        elif isinstance(value, str):
            expr = cql2.parse_text(value)
        else:
            raise FilterError("must be CQL2 text or a CQL2 JSON object", where)
        expr.validate()
    except FilterError:
        raise
    except Exception as e:  # cql2 raises ParseError, ValidationError, ValueError
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise FilterError(f"not a valid CQL2 filter: {first}", where) from None
    return json.dumps(expr.to_json(), sort_keys=True, separators=(",", ":"))


def properties_of(tree: Any) -> set[str]:
    """Property names a CQL2 JSON tree refers to."""
    if isinstance(tree, dict):
        if set(tree) == {"property"}:
            return {tree["property"]}
        return set().union(*(properties_of(v) for v in tree.values())) if tree else set()
    if isinstance(tree, list):
        return set().union(*(properties_of(v) for v in tree)) if tree else set()
    return set()


def check_properties(canonical: str, known: Iterable[str], where: str = "filter") -> None:
    unknown = sorted(properties_of(json.loads(canonical)) - set(known) - {"geometry"})
    if unknown:
        raise FilterError(f"unknown propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)} "
                          f"(queryable: {', '.join(sorted(known))})", where)


@dataclass(frozen=True)
class ItemFilter:
    expr: Any

    def matches(self, item: Any) -> bool:
        doc = {"type": "Feature", "id": item.id, "geometry": None,
               "properties": {"datetime": item.datetime, **item.properties}}
        if item.bbox is not None:
            w, s, e, n = item.bbox
            doc["geometry"] = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
        try:
            return bool(self.expr.matches(doc))
        except Exception:  # a comparison the item's values cannot satisfy (e.g. a missing property)
            return False


@lru_cache(maxsize=256)
def item_filter(canonical: str) -> ItemFilter:
    return ItemFilter(cql2.parse_json(canonical))
