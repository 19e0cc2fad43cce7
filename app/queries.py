"""Query-string models: each query is typed once (pydantic, `extra="forbid"`) and that one model
both validates requests and writes the OpenAPI parameters, so `/api` cannot drift from the code.

`CollectionQuery` holds what selects data of a source collection (`datetime`, `bands`); the map
tile query adds rendering. New selection parameters (a mosaic reducer, a CQL2 item filter) are one
field each here; `parameters(Model)` lists them in the API definition and `parse(Model, query)`
validates them, naming the parameter in the 400.
"""
from __future__ import annotations

import math
from typing import Any, Literal, Mapping, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ApiError

M = TypeVar("M", bound=BaseModel)
MOSAIC_METHODS = ("median", "mean", "min", "max", "first", "last")


class QueryModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CollectionQuery(QueryModel):
    """Which data of a source collection: time, bands, scenes (CQL2 filter or one item) and how the
    selected scenes are mosaicked."""

    datetime: str | None = Field(None, description="Instant or interval (RFC 3339, `a/b`, `../b`, `a/..`): the scenes "
                                                    "of a time series collection to use.")
    bands: str | None = Field(None, description="Comma-separated band names of the collection (e.g. `B08,B04,B03`).",
                              examples=["B04,B03,B02"])
    filter: str | None = Field(None, description="A CQL2 filter on the collection's items (scenes), e.g. "
                                                 "`eo:cloud_cover < 20`.")
    filter_lang: Literal["cql2-text", "cql2-json"] | None = Field(None, alias="filter-lang",
                                                                  description="The language of `filter` (default cql2-text).")
    item: str | None = Field(None, description="One item (scene) of the collection, by id (instead of `filter`).")
    mosaic: Literal[MOSAIC_METHODS] | None = Field(None, description="Per-pixel reducer over the selected scenes "  # type: ignore[valid-type]
                                                                     "of a time series, cloud-masked (default: first valid).")


class MapQuery(CollectionQuery):
    """A map image of a collection: optional algorithm (its own parameters are further query
    parameters, validated by its parameter model), colour map, value range and hillshade blending."""

    f: Literal["png", "webp", "jpeg", "jpg"] | None = Field(None, description="Image format (overrides Accept).")
    algorithm: str | None = Field(None, description="A one-input raster process applied before rendering (e.g. "
                                                     "`hillshade`, `slope`, `aspect`); its parameters (e.g. "
                                                     "`azimuth`, `z_factor`) are query parameters too.")
    colormap: str | None = Field(None, description="A colour map name for one-band output (e.g. `terrain`, `viridis`).")
    rescale: str | None = Field(None, description="`min,max`: the values mapped to the first and last colour.",
                                examples=["0,3000"], pattern=r"^[^,]+,[^,]+$")
    blend: float = Field(0.0, ge=0.0, le=1.0, description="Shade the colour map with the algorithm's output "
                                                          "(0 none, 1 full), e.g. colour relief with `algorithm=hillshade`.")

    @field_validator("rescale")
    @classmethod
    def _rescale(cls, v: str | None) -> str | None:
        if v is not None:
            lo, hi = _two_numbers(v)
            if lo == hi or not math.isfinite(hi - lo):
                raise ValueError("needs two different numbers min,max within float range")
        return v

    @model_validator(mode="after")
    def _blend_needs_algorithm(self) -> "MapQuery":
        if self.blend > 0 and self.algorithm is None:
            raise ValueError("blend shades the colour map with an algorithm's output: add algorithm=hillshade")
        return self

    @property
    def rescale_range(self) -> tuple[float, float] | None:
        return _two_numbers(self.rescale) if self.rescale else None

    @property
    def band_list(self) -> tuple[str, ...] | None:
        names = tuple(b.strip() for b in (self.bands or "").split(",") if b.strip())
        return names or None


def _two_numbers(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"must be two comma-separated numbers, got '{text}'") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"must be finite numbers, got '{text}'")
    return lo, hi


def names(model: type[BaseModel]) -> set[str]:
    """The query parameter names of a model (aliases where a name is no Python identifier, e.g. filter-lang)."""
    return {f.alias or name for name, f in model.model_fields.items()}


def parse(model: type[M], query: Mapping[str, str]) -> M:
    """Validate the query keys the model knows; a bad value is a 400 naming the parameter."""
    try:
        return model.model_validate({k: v for k, v in query.items() if k in names(model)})
    except ValidationError as e:
        err = e.errors()[0]
        name = ".".join(str(x) for x in err["loc"]) or "query"
        raise ApiError(f"{name}: {err['msg'].removeprefix('Value error, ')}") from None


def parameters(model: type[BaseModel], extra: Mapping[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """OpenAPI 3.0 query parameters of a model (plus `extra` schemas by name, e.g. enums known at run time)."""
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = _openapi30(prop) | dict((extra or {}).get(name, {}))
        desc = prop.pop("description", "")
        prop.pop("title", None)
        out.append({"name": name, "in": "query", "required": name in required, "description": desc, "schema": prop})
    return out


def openapi_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON Schema in OpenAPI 3.0 form (body schemas; no `$defs` expected of these flat models)."""
    schema = model.model_json_schema()
    schema["properties"] = {k: _openapi30(v) for k, v in schema.get("properties", {}).items()}
    if model.model_config.get("extra") == "forbid":
        schema["additionalProperties"] = False
    return schema


def _openapi30(prop: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema of pydantic -> OpenAPI 3.0 (no `anyOf: [T, null]`, examples as `example`)."""
    prop = dict(prop)
    variants = prop.pop("anyOf", None)
    if variants:
        kept = [v for v in variants if v.get("type") != "null"]  # an absent query parameter is the None
        prop.update(kept[0] if len(kept) == 1 else {"anyOf": kept})
    if "examples" in prop:
        prop["example"] = prop.pop("examples")[0]
    if prop.get("default", 0) is None:
        prop.pop("default")
    return prop
