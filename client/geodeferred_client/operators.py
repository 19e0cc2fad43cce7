"""Python operators -> the service's `expression` process (its formula syntax: band names or b1, b2...,
+ - * / ** comparisons & | ~; see processes/ops/expression.py on the server).

`image op number` applies to every band; `image op image` stacks the two inputs (the `stack` process)
and pairs bands by position (a single band is broadcast). Output bands keep the left operand's names.
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Any

from .errors import NotSupported


def _number(x: Any) -> str:
    if isinstance(x, bool) or not isinstance(x, Real) or not math.isfinite(float(x)):
        raise TypeError(f"an image can be combined with a finite number or another image, not {x!r}")
    return repr(float(x)) if not float(x).is_integer() else str(int(x))


def _names(img) -> tuple[str, ...]:
    names = img.band_names
    if len(set(names)) != len(names):
        names = tuple(f"{n}_{i}" for i, n in enumerate(names, 1))
    return names


def binary(img, other: Any, op: str, reverse: bool = False):
    from .lazy import Image

    svc = img._svc
    names = _names(img)
    if isinstance(other, Image):
        if "stack" not in svc._descriptions():
            raise NotSupported("combining two images needs the service's 'stack' process")
        n, m = len(names), len(other.band_names)
        if n != m and 1 not in (n, m):
            raise ValueError(f"cannot pair {n} bands with {m} bands (select bands first)")
        pairs = [(f"b{i + 1 if n > 1 else 1}", f"b{n + (i + 1 if m > 1 else 1)}") for i in range(max(n, m))]
        if reverse:
            pairs = [(b, a) for a, b in pairs]
        formula = ";".join(f"({a}) {op} ({b})" for a, b in pairs)
        out_names = names if n >= m else _names(other)
        data = svc._build("stack", {"a": img, "b": other})
    else:
        value = _number(other)
        terms = [(f"b{i}", value) for i in range(1, len(names) + 1)]
        formula = ";".join(f"({value}) {op} ({b})" if reverse else f"({b}) {op} ({value})" for b, value in terms)
        out_names, data = names, img
    result = svc._build("expression", {"data": data, "expression": formula, "name": ";".join(out_names)})
    result._band_names = tuple(out_names)
    return result


def unary(img, op: str):
    names = _names(img)
    formula = ";".join(f"{op}(b{i})" for i in range(1, len(names) + 1))
    result = img._svc._build("expression", {"data": img, "expression": formula, "name": ";".join(names)})
    result._band_names = names
    return result
