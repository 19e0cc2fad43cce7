"""STAC -> sources: static catalogs (a folder or a URL) and STAC API searches.

Each asset's bands come from `eo:bands` (or the file's band descriptions), its scaling from
`raster:bands` scale/offset (Sentinel-2 L2A digital numbers -> reflectance), categorical assets
(classification, cloud masks) are read with nearest resampling, and a scene-classification band
(SCL) becomes the source's cloud mask. Remote documents are read only from URLs the caller has
checked against the configured prefixes (`allowed`); an asset outside them is refused.
"""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .reader import dataset_info
from .sources import Asset, CloudMask, Item, ItemSource

CATEGORICAL_ROLES = {"classification", "cloud", "data-mask"}
SKIP_ROLES = {"thumbnail", "overview", "metadata"}
Allowed = Callable[[str], bool]


def _is_data(key: str, a: Mapping[str, Any]) -> bool:
    roles = set(a.get("roles") or ["data"])
    if roles & SKIP_ROLES and not roles & ({"data"} | CATEGORICAL_ROLES):
        return False
    return str(a.get("type", "image/tiff")).startswith("image/tiff")


def _scaling(a: Mapping[str, Any], n: int) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None]:
    rb = a.get("raster:bands") or []
    if len(rb) != n or not any("scale" in b or "offset" in b for b in rb):
        return None, None
    return tuple(float(b.get("scale", 1.0)) for b in rb), tuple(float(b.get("offset", 0.0)) for b in rb)


def item_from_stac(doc: Mapping[str, Any], base: str, allowed: Allowed | None = None) -> Item:
    """An engine Item from a STAC Item dict; relative hrefs resolve against `base` (a file or URL)."""
    assets = []
    for key, a in doc.get("assets", {}).items():  # in the item's order (spectral in real collections)
        if not _is_data(key, a):
            continue
        href = resolve_href(a["href"], base, allowed)
        names = [b.get("name") for b in a.get("eo:bands", []) or a.get("bands", [])]
        if not names or not all(names):
            names = list(dataset_info(href).band_names)
            if len(names) == 1:
                names = [key.upper() if key.lower() == "scl" else key]
        categorical = bool(CATEGORICAL_ROLES & set(a.get("roles", []))) or key.lower() == "scl"
        scale, offset = (None, None) if categorical else _scaling(a, len(names))
        assets.append(Asset(href, tuple(names), "nearest" if categorical else "bilinear", scale, offset))
    props = dict(doc.get("properties") or {})
    bbox = tuple(float(v) for v in doc["bbox"][:2] + doc["bbox"][-2:]) if doc.get("bbox") else None
    keep = {k: v for k, v in props.items() if isinstance(v, (str, int, float, bool)) and k != "datetime"}
    return Item(doc["id"], tuple(assets), props.get("datetime"), bbox, keep)


def resolve_href(href: str, base: str, allowed: Allowed | None = None) -> str:
    """An asset href as GDAL opens it: relative to its document, remote ones through /vsicurl/."""
    if "://" not in href and not href.startswith("/"):
        href = base.rsplit("/", 1)[0] + "/" + href.removeprefix("./") if "://" in base else \
            str(Path(base).parent / href)
    if "://" in href:
        if allowed is None or not allowed(href):
            raise ValueError(f"asset {href!r} is not under an allowed remote prefix")
        return "/vsicurl/" + href
    return href


def _fetch_json(url: str, allowed: Allowed | None) -> dict[str, Any]:
    if "://" not in url:
        return json.loads(Path(url).read_text())
    if allowed is None or not allowed(url):
        raise ValueError(f"{url!r} is not under an allowed remote prefix")
    with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310 (checked against the allowed prefixes)
        return json.loads(r.read())


def _link_target(href: str, base: str) -> str:
    if "://" in href or href.startswith("/"):
        return href
    return base.rsplit("/", 1)[0] + "/" + href.removeprefix("./") if "://" in base else str(Path(base).parent / href)


def cloud_mask_of(items: Iterable[Item]) -> CloudMask | None:
    first = next(iter(items), None)
    return CloudMask() if first is not None and "SCL" in first.band_names else None


def items_from_folder(folder: Path) -> tuple[Item, ...]:
    """Every STAC Item JSON file in a folder (the STAC Collection file is skipped)."""
    out = []
    for path in sorted(Path(folder).glob("*.json")):
        doc = json.loads(path.read_text())
        if doc.get("type") == "Feature":
            out.append(item_from_stac(doc, str(path)))
    return tuple(out)


def items_from_catalog(href: str, allowed: Allowed | None = None) -> tuple[Item, ...]:
    """Items of a static STAC catalog or collection (a file or URL), following child and item links."""
    out: list[Item] = []
    seen: set[str] = set()
    todo = [href]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        doc = _fetch_json(url, allowed)
        if doc.get("type") == "Feature":
            out.append(item_from_stac(doc, url, allowed))
            continue
        for link in doc.get("links", []):
            if link.get("rel") in ("item", "child"):
                todo.append(_link_target(link["href"], url))
    return tuple(sorted(out, key=lambda i: (i.datetime or "", i.id)))


def items_from_search(url: str, params: Mapping[str, Any], allowed: Allowed | None = None,
                      max_items: int = 10_000) -> tuple[Item, ...]:
    """Items of a STAC API search (pystac-client), e.g. collections, bbox, datetime, filter."""
    from pystac_client import Client

    if allowed is None or not allowed(url):
        raise ValueError(f"{url!r} is not under an allowed remote prefix")
    search = Client.open(url).search(max_items=max_items, **dict(params))
    return tuple(item_from_stac(d, next((ln["href"] for ln in d.get("links", []) if ln.get("rel") == "self"), url),
                                allowed) for d in search.items_as_dicts())


def stac_source(id: str, items: tuple[Item, ...], version: str = "") -> ItemSource:
    return ItemSource(id, items, version, cloud_mask_of(items))
