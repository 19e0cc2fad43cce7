"""CQL2 filters on STAC items (text or JSON), parsed once by `processes.filters` (the `cql2` library).

A filter names item properties (`eo:cloud_cover < 20`), `id`, `datetime` or the geometry; a
property no item has is an error naming it, rather than a filter that silently matches nothing.
Filters are kept as canonical CQL2 JSON text, so equal filters give equal graph hashes. This module
adapts the one filter wrapper to items and to graph errors that name the node.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from .. import filters
from .errors import GraphError


class FilterError(GraphError):
    pass


def _parse(value: Any, lang: str | None = None, where: str = "filter") -> filters.Filter:
    try:
        return filters.parse_filter(value, lang)
    except filters.FilterError as e:
        raise FilterError(f"not a valid CQL2 filter: {e}", where) from None


def canonical_filter(value: Any, lang: str | None = None, where: str = "filter") -> str:
    """A CQL2 text string or JSON object -> canonical CQL2 JSON text."""
    if not isinstance(value, (str, dict)):
        raise FilterError("must be CQL2 text or a CQL2 JSON object", where)
    return _parse(value, lang, where).canonical()


def properties_of(canonical: str) -> set[str]:
    """Property names a canonical filter refers to."""
    return set(item_filter(canonical).filter.properties)


def check_properties(canonical: str, known: Iterable[str], where: str = "filter") -> None:
    unknown = sorted(properties_of(canonical) - set(known) - {"geometry"})
    if unknown:
        raise FilterError(f"unknown propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)} "
                          f"(queryable: {', '.join(sorted(known))})", where)


@dataclass(frozen=True)
class ItemFilter:
    filter: filters.Filter

    def matches(self, item: Any) -> bool:
        geometry = None
        if item.bbox is not None:
            w, s, e, n = item.bbox
            geometry = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
        try:
            return self.filter.matches({"datetime": item.datetime, **item.properties}, geometry, item.id)
        except filters.FilterError:  # a comparison the item's values cannot satisfy
            return False


@lru_cache(maxsize=256)
def item_filter(canonical: str) -> ItemFilter:
    return ItemFilter(_parse(canonical, "cql2-json"))
