"""Any JSON document as a page people can use: its links, its entries as a clickable list, a Leaflet
map (served from /static, no CDN) where the document has map tiles or features, a job's progress,
a process's execution form.

Everything shown is read from the JSON document itself, so the page cannot say something the API
does not.
"""
from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request

_env = Environment(loader=PackageLoader("app", "templates"), autoescape=select_autoescape(["html"]))
LISTS = ("collections", "processes", "jobs", "tilesets", "tileMatrixSets", "styles", "results")
OGC = "http://www.opengis.net/def/rel/ogc/1.0/"


def prefers_html(request: Request) -> bool:
    """f=html, or a browser's Accept (text/html listed before any JSON type; images and fetch() say neither)."""
    f = request.query_params.get("f")
    if f is not None:
        return f.lower() == "html"
    accept = request.headers.get("accept", "").lower()
    html = accept.find("text/html")
    js = accept.find("json")
    return html >= 0 and (js < 0 or html < js)


def _page_href(href: str) -> str:
    """A link for a browser: the JSON format switch dropped (the browser's Accept asks for HTML)."""
    return href.replace("?f=json&", "?").replace("?f=json", "").replace("&f=json", "")


def _entries(doc: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
    for key in LISTS:
        items = doc.get(key)
        if isinstance(items, list) and items and isinstance(items[0], dict):
            rows = []
            for it in items:
                links = [lk for lk in it.get("links", []) if isinstance(lk, dict)]
                target = next((lk for lk in links if lk.get("rel") in ("self", "describedby")), None)
                rows.append({"title": it.get("title") or it.get("id") or it.get("jobID"),
                             "href": _page_href(target["href"]) if target else None,
                             "info": it.get("description") or _job_info(it) or it.get("id", "")})
            return key, rows
    return None, []


def _job_info(it: dict[str, Any]) -> str:
    if "jobID" not in it:
        return ""
    return f"{it.get('processID', '')} - {it.get('status', '')} {it.get('progress', '')}%"


def _bounds(doc: dict[str, Any]) -> list[float] | None:
    bbox = (doc.get("extent") or {}).get("spatial", {}).get("bbox")
    if bbox:
        return [float(v) for v in bbox[0][:4]]
    bb = doc.get("boundingBox") or {}
    if "lowerLeft" in bb and "crs" in bb and "CRS84" in str(bb["crs"]):
        return bb["lowerLeft"] + bb["upperRight"]
    return None


def _map(doc: dict[str, Any], links: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What the page's map shows: a WebMercatorQuad tile template (+ its styles), or GeoJSON."""
    if doc.get("type") in ("FeatureCollection", "Feature"):
        return {"geojson": doc}
    tiles = None
    for lk in links:
        rel, href = lk.get("rel", ""), lk.get("href", "")
        if rel.endswith("tileset-map") and href.endswith("/WebMercatorQuad"):
            tiles = f"{href}/{{z}}/{{y}}/{{x}}"
        elif rel == "item" and lk.get("templated") and "{tileMatrix}" in href and "?" not in href and tiles is None:
            prefix = href.split("/map/tiles/")[0]
            tiles = f"{prefix}/map/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
    if tiles is None:
        return None
    styles = next((lk["href"] for lk in links if lk.get("rel") == OGC + "styles"), None)
    return {"tiles": tiles, "styles": styles and _page_href(styles), "bounds": _bounds(doc)}


def render_html(title: str, doc: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
    links = [lk for lk in doc.get("links", []) if isinstance(lk, dict)]
    list_key, entries = _entries(doc)
    outputs = [(k, v["href"]) for k, v in doc.items() if isinstance(v, dict) and isinstance(v.get("href"), str)]
    features = doc.get("features") if doc.get("type") == "FeatureCollection" else None
    rows = [{"id": f.get("id")} | (f.get("properties") or {}) for f in (features or [])[:500]]
    return _env.get_template("document.html").render(
        title=title, doc=doc, description=doc.get("description") or doc.get("detail"), links=links,
        list_key=list_key, entries=entries, rows=rows, map=_map(doc, links), outputs=outputs,
        job=doc if "jobID" in doc else None, process=doc if "inputs" in doc and "outputs" in doc else None,
        **(extra or {}), body=json.dumps(doc, indent=2, default=str)[:200_000])


def render_api_docs(spec_url: str) -> str:
    return _env.get_template("api.html").render(title="API documentation", spec_url=spec_url)


def render_report(model_id: str, report: dict[str, Any], json_href: str) -> str:
    """A classifier's accuracy report: per-class table and confusion matrix."""
    return _env.get_template("report.html").render(model=model_id, r=report, json_href=json_href)
