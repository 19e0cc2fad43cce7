"""A pygeoapi feature provider over a GeoJSON file held in memory (CRS84), with a spatial index.

pygeoapi's own GeoJSON provider re-reads the file on every request and ignores `datetime`. This
one serves the parsed, indexed layer of `processes.engine.vectors` (the same selection process
inputs use) and implements what OGC API - Features Part 1 and 3 ask of `/items`: bbox
intersection (antimeridian-crossing boxes too), `datetime` instants and intervals on the
configured `time_field`, CQL2 filters, equality filters on properties, sorting, property
selection, and a `numberMatched`/`numberReturned` that are right on every page.

pygeoapi instantiates a provider per request (`load_plugin`), so the instance is a thin view of the
shared, immutable `Layer`. `load_layer` is also what the collection descriptions use for extents.
"""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from pygeoapi.provider.base import BaseProvider, ProviderInvalidQueryError, ProviderItemNotFoundError

from processes.engine.vectors import load_layer, parse_datetime_param, select_indices
from processes.filters import Filter

# The CQL2 filter of the request being answered: the Features route parses `filter`/`filter-lang`
# with processes.filters (pygeoapi would parse it as ECQL) and sets it around pygeoapi's call.
REQUEST_FILTER: ContextVar[Filter | None] = ContextVar("REQUEST_FILTER", default=None)


# ---------------------------------------------------------------- query helpers
def _typed(value: str, kind: str, name: str) -> Any:
    try:
        if kind == "integer":
            f = float(value)
            return int(f) if f.is_integer() else f
        if kind == "number":
            return float(value)
    except ValueError:
        raise ProviderInvalidQueryError(user_msg=f"'{name}' is a {kind}: '{value}' is not one") from None
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise ProviderInvalidQueryError(user_msg=f"'{name}' is a boolean: use true or false")
        return value.lower() == "true"
    return value


def _comparable(value: Any, kind: str) -> Any:
    """Values of a property in one comparable type (a mixed-type property compares as text)."""
    if value is None or kind in ("integer", "number", "boolean"):
        return value
    return str(value)


class GeoJSONMemoryProvider(BaseProvider):
    """pygeoapi `feature` provider: `data` is a GeoJSON FeatureCollection file in CRS84."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        self.id_field = self.id_field or "id"
        self.layer = load_layer(self.data, self.id_field, self.time_field)
        self._fields = self.layer.fields

    def get_fields(self) -> dict[str, dict[str, str]]:
        return self.layer.fields

    def _matching(self, bbox: list[float], datetime_: str | None, properties: list[tuple[str, str]]) -> list[int]:
        layer = self.layer
        if datetime_:
            try:
                parse_datetime_param(datetime_)
            except ValueError as e:
                raise ProviderInvalidQueryError(user_msg=f"invalid datetime: {e}") from None
        try:
            idx = select_indices(layer, bbox, datetime_, REQUEST_FILTER.get())
        except ValueError as e:
            raise ProviderInvalidQueryError(user_msg=str(e)) from None
        for name, value in properties:
            kind = self.fields.get(name, {}).get("type", "string")
            want = _typed(value, kind, name)
            idx = [i for i in idx if _comparable(layer.features[i]["properties"].get(name), kind) == want]
        return idx

    def _output(self, i: int, select: list[str], skip_geometry: bool) -> dict[str, Any]:
        f = self.layer.features[i]
        props = f["properties"]
        if select:
            props = {k: v for k, v in props.items() if k in select}
        return {"type": "Feature", "id": f["id"], "geometry": None if skip_geometry else f["geometry"],
                "properties": dict(props)}

    def query(self, offset: int = 0, limit: int = 10, resulttype: str = "results", bbox: list | None = None,
              datetime_: str | None = None, properties: list | None = None, sortby: list | None = None,
              select_properties: list | None = None, skip_geometry: bool = False, q: str | None = None,
              **kwargs: Any) -> dict[str, Any]:
        if q:
            raise ProviderInvalidQueryError(user_msg="free-text search (q) is not supported")
        idx = self._matching(bbox or [], datetime_, properties or [])
        for s in reversed(sortby or []):
            name, kind = s["property"], self.fields.get(s["property"], {}).get("type", "string")
            present = [i for i in idx if self.layer.features[i]["properties"].get(name) is not None]
            missing = [i for i in idx if self.layer.features[i]["properties"].get(name) is None]
            present.sort(key=lambda i: _comparable(self.layer.features[i]["properties"][name], kind),
                         reverse=s.get("order") == "-")
            idx = present + missing  # features without the property last, in either order
        page = [] if (resulttype or "").lower() == "hits" else idx[offset:offset + limit]
        return {"type": "FeatureCollection",
                "features": [self._output(i, select_properties or [], skip_geometry) for i in page],
                "numberMatched": len(idx), "numberReturned": len(page)}

    def get(self, identifier: Any, **kwargs: Any) -> dict[str, Any]:
        i = self.layer.index.get(str(identifier))
        if i is None:
            raise ProviderItemNotFoundError(user_msg=f"no feature '{identifier}' in this collection")
        return self._output(i, [], False)

    def __repr__(self) -> str:
        return f"<GeoJSONMemoryProvider> {self.data}"
