"""CQL2 filters (OGC API - Features Part 3) on features and STAC items, through the `cql2` package.

One wrapper for every place a filter is accepted (features `/items?filter=`, a process's
`{"collection": ..., "filter": ...}` input, STAC item filters), so they all parse and match alike:

- `parse_filter(value, lang)` takes cql2-text (a string) or cql2-json (an object, or its JSON text
  with `lang="cql2-json"`) and raises `FilterError` (a ValueError the app maps to 400) naming what
  is wrong: a syntax error, an unknown function, or an unsupported language;
- `Filter.matches(properties, geometry)` evaluates it on one feature with SQL's three-valued logic:
  a comparison with a missing or null property is unknown, and a feature matches only when the
  whole filter is true (`missing > 2 OR crop = 'maize'` matches maize, `missing > 2` nothing);
- `Filter.properties` are the property names it uses, to check against a collection's queryables
  (`geometry` is the feature geometry in spatial operators).

A Filter is picklable (it travels as its cql2-json) and hashable, so it can sit in a frozen graph
node or a job request.
"""
from __future__ import annotations

import json
from typing import Any, Iterator, Mapping

import cql2

LANGS = ("cql2-text", "cql2-json")
# Every operator and function of CQL2 (basic, advanced, case/accent-insensitive, spatial, temporal,
# array comparison, arithmetic): anything else is an unknown function, refused at parse time
# rather than silently matching nothing.
OPERATORS = frozenset("""
and or not = <> < > <= >= like between in isNull casei accenti
s_intersects s_equals s_disjoint s_touches s_within s_overlaps s_crosses s_contains
t_after t_before t_contains t_disjoint t_during t_equals t_finishedBy t_finishes t_intersects t_meets
t_metBy t_overlappedBy t_overlaps t_startedBy t_starts
a_equals a_contains a_containedBy a_overlaps
+ - * / % ^ div
""".split())
_KNOWN = frozenset(op.lower() for op in OPERATORS)
_UNKNOWN = "Could not reduce expression to boolean"  # cql2's message when the result is unknown (null)


class FilterError(ValueError):
    """A filter that cannot be parsed or evaluated: the client's mistake (400)."""


class Filter:
    """A parsed CQL2 expression."""

    __slots__ = ("_json", "_expr", "_props")

    def __init__(self, expr: "cql2.Expr") -> None:
        self._expr = expr
        self._json: dict[str, Any] | bool = expr.to_json()
        self._props = frozenset(_property_names(self._json))
        unknown = sorted({op for op in _operators(self._json) if op.lower() not in _KNOWN})
        if unknown:
            raise FilterError(f"unknown CQL2 function(s) {', '.join(unknown)}")

    @property
    def properties(self) -> frozenset[str]:
        return self._props

    def to_json(self) -> dict[str, Any] | bool:
        return self._json

    def to_text(self) -> str:
        return self._expr.to_text()

    def matches(self, properties: Mapping[str, Any], geometry: Mapping[str, Any] | None = None,
                id: Any = None) -> bool:
        feature = {"type": "Feature", "geometry": geometry, "properties": dict(properties)}
        if id is not None:
            feature["id"] = id
        try:
            return bool(self._expr.matches(feature))
        except Exception as e:  # cql2 raises plain Exception
            if _UNKNOWN in str(e):
                return False  # unknown (a null or missing property, a type mismatch): not a match
            raise FilterError(f"the filter cannot be evaluated: {' '.join(str(e).split())}") from None

    def __reduce__(self):
        return parse_filter, (self._json, "cql2-json")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Filter) and self.canonical() == other.canonical()

    def __hash__(self) -> int:
        return hash(self.canonical())

    def canonical(self) -> str:
        return json.dumps(self._json, sort_keys=True, separators=(",", ":"))

    def __repr__(self) -> str:
        return f"Filter({self.to_text()!r})"


def parse_filter(value: Any, lang: str | None = None) -> Filter:
    """A Filter from cql2-text or cql2-json; `lang` None guesses from the value's type."""
    if isinstance(value, Filter):
        return value
    if lang is not None and lang not in LANGS:
        raise FilterError(f"filter-lang must be one of {', '.join(LANGS)}, not '{lang}'")
    try:
        if isinstance(value, Mapping) or isinstance(value, bool):
            if lang == "cql2-text":
                raise FilterError("a cql2-text filter must be a string")
            expr = cql2.parse_json(json.dumps(value))
        elif isinstance(value, str):
            if not value.strip():
                raise FilterError("the filter is empty")
            expr = cql2.parse_json(value) if lang == "cql2-json" else cql2.parse_text(value)
        else:
            raise FilterError("a filter is a cql2-text string or a cql2-json object")
        expr.validate()  # the cql2-json schema: operator arities, literal types
        expr.to_text()
    except FilterError:
        raise
    except Exception as e:  # cql2.ParseError, cql2.ValidationError, ValueError, TypeError
        raise FilterError(f"invalid {lang or ('cql2-json' if isinstance(value, Mapping) else 'cql2-text')} "
                          f"filter: {' '.join(str(e).split())[:500]}") from None
    return Filter(expr)


def _walk(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _property_names(doc: Any) -> Iterator[str]:
    for node in _walk(doc):
        if set(node) == {"property"} and isinstance(node["property"], str):
            yield node["property"]


def _operators(doc: Any) -> Iterator[str]:
    for node in _walk(doc):
        if "op" in node and "args" in node and isinstance(node["op"], str):
            yield node["op"]


__all__ = ["Filter", "FilterError", "LANGS", "parse_filter"]
