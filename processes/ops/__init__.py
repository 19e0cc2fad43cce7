"""Registry of atomic operations. Adding one: a module with an OPERATION, and one line here."""
from __future__ import annotations

from types import MappingProxyType

from . import (aspect, composite, difference, expression, hillshade, mask, normalized_difference, reclassify,
               slope, stack, threshold)
from ._base import Input, Operation, Params, Raster, Series

REGISTRY: MappingProxyType[str, Operation] = MappingProxyType(
    {m.OPERATION.id: m.OPERATION for m in (
        hillshade, slope, aspect,
        expression, normalized_difference, threshold, reclassify, mask, composite, difference, stack,
    )}
)

__all__ = ["REGISTRY", "Input", "Operation", "Params", "Raster", "Series"]
