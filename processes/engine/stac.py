"""STAC items -> engine Items: each asset's bands come from `eo:bands` (or the file's band names)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from .reader import dataset_info
from .sources import Asset, Item

CATEGORICAL_ROLES = {"classification", "cloud", "data-mask"}


def item_from_stac(doc: dict[str, Any], base: str) -> Item:
    """An engine Item from a STAC Item dict; relative hrefs resolve against `base` (a folder or URL)."""
    assets = []
    for key, a in sorted(doc.get("assets", {}).items()):
        if "data" not in a.get("roles", ["data"]) and not CATEGORICAL_ROLES & set(a.get("roles", [])):
            continue
        if not str(a.get("type", "image/tiff")).startswith("image/tiff"):
            continue
        href = _resolve(a["href"], base)
        names = [b.get("name") for b in a.get("eo:bands", []) or a.get("bands", [])]
        if not names or not all(names):
            names = list(dataset_info(href).band_names)
            if len(names) == 1:
                names = [key.upper() if key.lower() == "scl" else key]
        categorical = bool(CATEGORICAL_ROLES & set(a.get("roles", []))) or key.lower() == "scl"
        assets.append(Asset(href, tuple(names), "nearest" if categorical else "bilinear"))
    return Item(doc["id"], tuple(assets), doc.get("properties", {}).get("datetime"))


def _resolve(href: str, base: str) -> str:
    if "://" in href or href.startswith("/"):
        return href
    if "://" in base:
        return base.rsplit("/", 1)[0] + "/" + href
    return str(Path(base).parent / href)


def items_from_folder(folder: Path) -> tuple[Item, ...]:
    """Every STAC Item JSON file in a folder (the STAC Collection file is skipped)."""
    out = []
    for path in sorted(folder.glob("*.json")):
        doc = json.loads(path.read_text())
        if doc.get("type") == "Feature":
            out.append(item_from_stac(doc, str(path)))
    return tuple(out)


def items_from_docs(docs: Iterable[dict[str, Any]], base: str) -> tuple[Item, ...]:
    return tuple(item_from_stac(d, base) for d in docs)
