"""Python methods generated from OGC process descriptions (`/processes/{id}`): a signature
(inspect.Signature, so help(), IDEs and Jupyter show it), a docstring from the titles, descriptions
and schemas, and a body that builds the lazy Part 3 node. Nothing here knows a process by name."""
from __future__ import annotations

import inspect
import keyword
import re
from typing import Any, Callable, Mapping

REGION = ("bbox", "crs", "width", "height", "resolution")  # where to evaluate, given at compute()/get()/start()
TYPES = {"number": float, "integer": int, "string": str, "boolean": bool, "array": list, "object": dict}


def py_name(pid: str) -> str:
    """'ndvi-summer-median' -> 'ndvi_summer_median' (a valid, non-keyword identifier)."""
    name = re.sub(r"\W", "_", pid)
    if not name or name[0].isdigit() or keyword.iskeyword(name):
        name = f"p_{name}"
    return name


def is_raster_input(schema: Mapping[str, Any]) -> bool:
    """A raster input takes a collection reference or a nested process (Part 3 schema)."""
    options = schema.get("oneOf") or schema.get("anyOf") or []
    return any("process" in (o.get("required") or []) for o in options if isinstance(o, Mapping))


def collection_keys(descriptions: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The modifiers a collection input accepts (bands, datetime, filter...), read from the descriptions."""
    keys: set[str] = set()
    for desc in descriptions.values():
        for inp in desc.get("inputs", {}).values():
            for o in inp.get("schema", {}).get("oneOf") or []:
                if "collection" in (o.get("required") or []):
                    keys |= set(o.get("properties", {}))
    return keys


def returns_raster(desc: Mapping[str, Any]) -> bool:
    """A process whose outputs include a binary raster (GeoTIFF) gives an Image; others a Result."""
    for out in (desc.get("outputs") or {}).values():
        media = str(out.get("schema", {}).get("contentMediaType", ""))
        if media.startswith("image/tiff") or "geotiff" in media:
            return True
    return False


def _annotation(schema: Mapping[str, Any]) -> Any:
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    t = schema.get("type")
    if t in TYPES:
        return TYPES[t]
    kinds = [TYPES.get(s.get("type")) for s in schema.get("anyOf", []) if isinstance(s, Mapping)]
    kinds = [k.__name__ if k else "None" for k in kinds]
    return " | ".join(kinds) if kinds else inspect.Parameter.empty


def _describe(name: str, inp: Mapping[str, Any]) -> str:
    schema = inp.get("schema", {})
    bits = [f"    {name}: {inp.get('title') or name}"]
    if inp.get("description"):
        bits.append(f"        {inp['description']}")
    facts = []
    if "enum" in schema:
        facts.append("one of " + ", ".join(map(repr, schema["enum"])))
    for k, label in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if k in schema:
            facts.append(f"{label} {schema[k]}")
    if "default" in schema:
        facts.append(f"default {schema['default']!r}")
    if facts:
        bits.append("        (" + "; ".join(facts) + ")")
    return "\n".join(bits)


def split_inputs(desc: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(raster input names, parameter names) of a description, region inputs left out."""
    inputs = desc.get("inputs", {})
    rasters = [n for n, i in inputs.items() if is_raster_input(i.get("schema", {}))]
    params = [n for n in inputs if n not in rasters and n not in REGION]
    return rasters, params


def _required(inp: Mapping[str, Any]) -> bool:
    return inp.get("minOccurs", 0) >= 1 and "default" not in inp.get("schema", {})


def signature(desc: Mapping[str, Any], bound: str | None) -> inspect.Signature:
    """Positional: the required raster inputs (but the one `self` fills), the required parameters
    (`classify(model)`), then the optional raster inputs (None: left out); the other parameters are
    keyword-only with the server's defaults."""
    inputs = desc.get("inputs", {})
    rasters, params = split_inputs(desc)
    P = inspect.Parameter
    out = [P("self", P.POSITIONAL_ONLY)] if bound else []
    out += [P(n, P.POSITIONAL_OR_KEYWORD, annotation="Image") for n in rasters if n != bound and _required(inputs[n])]
    out += [P(n, P.POSITIONAL_OR_KEYWORD, annotation=_annotation(inputs[n].get("schema", {})))
            for n in params if _required(inputs[n])]
    out += [P(n, P.POSITIONAL_OR_KEYWORD, default=None, annotation="Image | None")
            for n in rasters if n != bound and not _required(inputs[n])]
    out += [P(n, P.KEYWORD_ONLY, default=inputs[n].get("schema", {}).get("default"),
              annotation=_annotation(inputs[n].get("schema", {}))) for n in params if not _required(inputs[n])]
    return inspect.Signature(out)


def docstring(desc: Mapping[str, Any], bound: str | None, returns: str) -> str:
    rasters, params = split_inputs(desc)
    inputs = desc.get("inputs", {})
    lines = [f"{desc.get('title') or desc['id']} (process '{desc['id']}', lazy: nothing is computed).", ""]
    if desc.get("description"):
        lines += [desc["description"], ""]
    if bound:
        lines += [f"This image is the input '{bound}'.", ""]
    shown = [n for n in rasters if n != bound] + params
    if shown:
        lines.append("Parameters:")
        lines += [_describe(n, inputs[n]) for n in shown]
        lines.append("")
    lines.append(f"Returns a lazy {returns}: .to_dict() is the Part 3 execution request.")
    return "\n".join(lines)


def make_method(desc: Mapping[str, Any], build: Callable[[str, dict[str, Any]], Any], bound: str | None,
                returns: str) -> Callable[..., Any]:
    """A function (a method when `bound` names the raster input `self` fills) that calls `build(pid, inputs)`."""
    sig = signature(desc, bound)
    pid = desc["id"]
    optional_rasters = {n for n in split_inputs(desc)[0] if not _required(desc["inputs"][n])}

    def method(*args: Any, **kwargs: Any) -> Any:
        arguments = sig.bind(*args, **kwargs).arguments  # only what the caller gave: the server fills defaults
        arguments = {k: v for k, v in arguments.items() if not (v is None and k in optional_rasters)}
        inputs = {bound: arguments.pop("self")} if bound else {}
        inputs.update(arguments)
        return build(pid, inputs)

    method.__signature__ = sig  # type: ignore[attr-defined]
    method.__name__ = method.__qualname__ = py_name(pid)
    method.__doc__ = docstring(desc, bound, returns)
    method.process_id = pid  # type: ignore[attr-defined]
    return method
