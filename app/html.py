"""Any JSON document as a readable HTML page (links clickable, a map for tiled collections)."""
from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

_env = Environment(loader=PackageLoader("app", "templates"), autoescape=select_autoescape(["html"]))


def render_html(title: str, doc: dict[str, Any]) -> str:
    links = [lk for lk in doc.get("links", []) if isinstance(lk, dict)]
    tiles = next((lk["href"] for lk in links if "tiles" in lk.get("rel", "") and "{z}" in lk.get("href", "")), None)
    features = doc.get("features") if doc.get("type") == "FeatureCollection" else None
    props = None
    if features is not None:
        props = [f.get("properties", {}) | {"id": f.get("id")} for f in features]
    return _env.get_template("document.html").render(
        title=title, description=doc.get("description"), links=links, tiles=tiles, rows=props,
        body=json.dumps(doc, indent=2, default=str)[:200_000])


def render_report(model_id: str, report: dict[str, Any], json_href: str) -> str:
    """A classifier's accuracy report: per-class table and confusion matrix."""
    return _env.get_template("report.html").render(model=model_id, r=report, json_href=json_href)
