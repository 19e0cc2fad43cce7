"""Stack: the bands of several rasters side by side, e.g. NDVI composites of several dates as
one feature stack for a classifier.

A classifier reads a pixel's features as one vector, so the inputs (two to eight rasters, `a`..`h`)
become one raster whose bands follow the inputs' order (and so combining two rasters in band
math needs only `a` and `b`). Band names stay as the inputs give them; a name that repeats gets a
"_2", "_3"... suffix, so every band stays addressable by name (and always by position b1, b2...),
or all are given by `names`. A pixel is valid where every input is.
"""
from __future__ import annotations

import numpy as np
from pydantic import Field

from ._base import Input, Operation, Params, Raster, valid_all

LETTERS = "abcdefgh"


class StackParams(Params):
    names: tuple[str, ...] | None = Field(None, min_length=1, max_length=256,
                                          description="Output band names, one per band of all inputs in order")


def _names(bands_in, p: StackParams) -> tuple[str, ...]:
    if p.names is not None:
        return p.names
    out: list[str] = []
    for name in (b for k in LETTERS if k in bands_in for b in bands_in[k]):
        new, k = name, 2
        while new in out:
            new, k = f"{name}_{k}", k + 1
        out.append(new)
    return tuple(out)


def _check(bands_in, p: StackParams) -> None:
    total = sum(len(bands_in[k]) for k in LETTERS if k in bands_in)
    if p.names is not None and (len(p.names) != total or len(set(p.names)) != total):
        raise ValueError(f"names must give {total} distinct band names (the inputs have {total} bands)")


def stack(inputs: dict[str, Raster], params: StackParams) -> Raster:
    rs = [inputs[k] for k in LETTERS if k in inputs]
    names = _names({k: inputs[k].band_names for k in inputs}, params)
    return rs[0].with_data(np.concatenate([r.data for r in rs]), names, valid_all(*(r.mask for r in rs)))


OPERATION = Operation(
    id="stack", title="Stack bands",
    description="The bands of two to eight rasters (a, b, ... h) as one raster, e.g. a multi-date feature stack.",
    inputs={k: Input(f"Raster {k}", optional=k not in "ab") for k in LETTERS}, params=StackParams,
    kernel=stack, output_bands=_names, check=_check, keywords=("stack", "bands", "features"),
)
