"""Safe per-pixel formulas: `ast` parsing against a whitelist, and a small numpy interpreter.

A formula comes from the network, so its text is never given to eval() or to numexpr (which
evaluates strings and has run injected code before, CVE-2023-39631). `parse` checks every node against a
whitelist (numbers, variable names, + - * / ** unary -, comparisons, & | ~ and a fixed set of numpy
functions) and bounds length and depth; `evaluate` walks only such checked trees. Numpy rather than
numexpr: it also has where/clip/minimum/maximum, and tiles are small. Constants are float32 scalars,
so `10 ** 10 ** 10` is inf (an invalid pixel), not a giant Python integer.
Comparisons and & | ~ give 1.0/0.0; operands of & | ~ are true where non-zero.
"""
from __future__ import annotations

import ast
import re
from functools import lru_cache

import numpy as np

from ._base import Raster

MAX_LENGTH, MAX_DEPTH = 1000, 50
F32 = np.float32


def _t(v) -> np.ndarray:
    """Truth value of a logical operand: non-zero."""
    return np.asarray(v) != 0


FUNCS = {f: (getattr(np, f), 1) for f in ("abs", "sqrt", "log", "log10", "log2", "exp", "sin", "cos", "tan",
                                         "arcsin", "arccos", "arctan", "floor", "ceil")}
FUNCS |= {"arctan2": (np.arctan2, 2), "minimum": (np.minimum, 2), "maximum": (np.maximum, 2),
          "clip": (np.clip, 3), "where": (lambda c, x, y: np.where(_t(c), x, y), 3)}
CONSTANTS = {"pi": F32(np.pi), "nan": F32(np.nan)}
BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide, ast.Pow: np.power,
          ast.BitAnd: lambda x, y: (_t(x) & _t(y)).astype(F32), ast.BitOr: lambda x, y: (_t(x) | _t(y)).astype(F32)}
UNARY = {ast.USub: np.negative, ast.UAdd: lambda x: x, ast.Invert: lambda x: (~_t(x)).astype(F32)}
COMPARE = {ast.Gt: np.greater, ast.GtE: np.greater_equal, ast.Lt: np.less, ast.LtE: np.less_equal,
           ast.Eq: np.equal, ast.NotEq: np.not_equal}


def _show(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except RecursionError:
        text = type(node).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _children(node: ast.AST, depth: int) -> list[ast.expr]:
    """The operands of an allowed node; ValueError naming the construct for anything else."""
    if depth > MAX_DEPTH:
        raise ValueError(f"expression nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, ast.Constant) and type(node.value) in (int, float) and abs(node.value) < 1e300:
        return []
    if isinstance(node, ast.Name):
        return []
    if isinstance(node, ast.BinOp) and type(node.op) in BINOPS:
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
        return [node.operand]
    if isinstance(node, ast.Compare) and all(type(o) in COMPARE for o in node.ops):
        return [node.left, *node.comparators]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCS and not node.keywords:
        if len(node.args) != FUNCS[node.func.id][1]:
            raise ValueError(f"{node.func.id}() takes {FUNCS[node.func.id][1]} argument(s), got {len(node.args)}")
        return node.args
    if isinstance(node, ast.Call):
        raise ValueError(f"'{_show(node.func)}(...)' is not allowed; functions: {', '.join(sorted(FUNCS))}")
    raise ValueError(f"'{_show(node)}' is not allowed in an expression ({type(node).__name__})")


@lru_cache(maxsize=256)
def parse(text: str) -> tuple[tuple[ast.expr, frozenset[str]], ...]:
    """Checked trees of the ';'-separated formulas, each with the variable names it reads."""
    if len(text) > MAX_LENGTH:
        raise ValueError(f"expression longer than {MAX_LENGTH} characters")
    out = []
    for part in text.split(";"):
        try:
            tree = ast.parse(part.strip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
            raise ValueError(f"invalid expression '{part.strip()}': {getattr(e, 'msg', e)}") from None
        names, todo = set(), [(tree, 0)]
        while todo:  # iterative: a deep tree cannot exhaust the stack before the depth check
            node, depth = todo.pop()
            todo += [(c, depth + 1) for c in _children(node, depth)]
            if isinstance(node, ast.Name):  # a called function's name is not visited
                names.add(node.id)
        out.append((tree, frozenset(names)))
    return tuple(out)


def variable(name: str, bands: tuple[str, ...]) -> int | None:
    """Index of the band a name refers to (its own name first, then b1, b2...), None for a constant."""
    if name in bands:
        return bands.index(name)
    if (m := re.fullmatch(r"b([1-9][0-9]*)", name)) and int(m[1]) <= len(bands):
        return int(m[1]) - 1
    if name in CONSTANTS:
        return None
    raise ValueError(f"unknown band '{name}' in expression (bands: {', '.join(bands)}; or b1..b{len(bands)})")


def evaluate(node: ast.expr, r: Raster):
    if isinstance(node, ast.Constant):
        return F32(node.value)
    if isinstance(node, ast.Name):
        i = variable(node.id, r.band_names)
        return CONSTANTS[node.id] if i is None else r.data[i]
    if isinstance(node, ast.BinOp):
        return BINOPS[type(node.op)](evaluate(node.left, r), evaluate(node.right, r))
    if isinstance(node, ast.UnaryOp):
        return UNARY[type(node.op)](evaluate(node.operand, r))
    if isinstance(node, ast.Compare):
        values = [evaluate(v, r) for v in (node.left, *node.comparators)]
        hits = [COMPARE[type(o)](x, y) for o, x, y in zip(node.ops, values, values[1:])]
        return np.logical_and.reduce(hits).astype(F32) if len(hits) > 1 else hits[0].astype(F32)
    return FUNCS[node.func.id][0](*(evaluate(a, r) for a in node.args))
