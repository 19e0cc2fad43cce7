"""Workflow processes: named analyses that expand, when parsed, into a graph of atomic operations.

A user asks for "the burn severity of 2023" with a year and a season, not for two cloud-masked
median composites, two NBRs, their difference, a cropland mask and a reclassification; the
expansion writes that graph (a Part 3 execution request of `ops`), so everything downstream (tiles,
coverages, jobs, zonal statistics, caching by graph hash) sees ordinary nodes. Each declares its
parameters once as a pydantic model (a misspelled input is a 400) and `expand(params, resolve,
path)` -> the graph's JSON form, raising GraphError naming the input for what the model cannot
check (a year without scenes, windows in the wrong order).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

from pydantic import BaseModel, ValidationError

from ..engine.errors import GraphError


@dataclass(frozen=True)
class Workflow:
    id: str
    title: str
    description: str
    params: type[BaseModel]
    expand: Callable[[Any, Callable[[str], Any], str], dict[str, Any]]  # (params, resolve, path) -> graph JSON
    keywords: tuple[str, ...] = ()

    def graph(self, inputs: Mapping[str, Any], resolve: Callable[[str], Any], path: str) -> dict[str, Any]:
        """The expanded graph (JSON) of an execution's inputs, validated."""
        if not isinstance(inputs, Mapping):
            raise GraphError("'inputs' must be an object", path)
        values = {k: v["value"] if isinstance(v, Mapping) and set(v) == {"value"} else v for k, v in inputs.items()}
        try:
            params = self.params(**values)
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            raise GraphError(err["msg"].removeprefix("Value error, "), f"{path}.inputs.{loc}" if loc else path) from None
        return self.expand(params, resolve, path)


def _registry() -> Mapping[str, Workflow]:
    from . import fire

    return MappingProxyType({w.id: w for w in fire.WORKFLOWS})


WORKFLOWS: Mapping[str, Workflow] = _registry()

__all__ = ["WORKFLOWS", "Workflow"]
