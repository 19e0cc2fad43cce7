"""The catalogued STAC Items and Collections, as the STAC API serves them.

Every raster catalog entry built from STAC Items (`demo: s2_items` or `stac:`) becomes one STAC
Collection named by its catalog id. Asset files on local disk are published by the service at
`/assets/<collection>/<item>/<file>`: the exported documents carry that root-relative path, which
the STAC mount turns into an absolute URL per request; only the files listed in `Export.files` are
ever served (no path from a request reaches the file system). Remote hrefs stay as they are.
An item without a thumbnail gets one rendered from its own pixels.
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalog import Catalog, RasterEntry
from .thumbnails import render_thumbnail

ASSET_ROOT = "/assets/"
PNG = "image/png"


@dataclass
class Export:
    collections: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # "<cid>/<item>/<file>" -> local file

    @property
    def digest(self) -> str:
        """A stable name for this content (changes when any document or file changes)."""
        h = hashlib.sha256(json.dumps([self.collections, self.items], sort_keys=True).encode())
        for key, path in sorted(self.files.items()):
            st = path.stat()
            h.update(f"{key}:{st.st_size}:{st.st_mtime_ns}".encode())
        return h.hexdigest()[:16]


def _local(href: str, base: Path) -> Path | None:
    if "://" in href:
        return None
    p = Path(href)
    p = p if p.is_absolute() else (base / p)
    return p.resolve() if p.is_file() else None


def _publish(export: Export, key: str, path: Path) -> str:
    export.files[key] = path
    return ASSET_ROOT + key


def _item(doc: dict[str, Any], cid: str, folder: Path, export: Export, thumbs: Path, entry: RasterEntry) -> dict[str, Any]:
    item = copy.deepcopy(doc)
    item["collection"] = cid
    item["links"] = [link for link in item.get("links", []) if link.get("rel") not in ("root", "parent", "collection", "self")]
    for key, asset in item.get("assets", {}).items():
        path = _local(asset["href"], folder)
        if path is not None:
            asset["href"] = _publish(export, f"{cid}/{item['id']}/{path.name}", path)
    if not any("thumbnail" in a.get("roles", []) for a in item.get("assets", {}).values()):
        png = render_thumbnail(doc, folder, thumbs / cid / f"{item['id']}.png", entry.config.render.bands)
        if png is not None:
            item["assets"]["thumbnail"] = {"href": _publish(export, f"{cid}/{item['id']}/{png.name}", png),
                                           "type": PNG, "title": "Preview (true colour)", "roles": ["thumbnail"]}
    return item


def _collection(entry: RasterEntry, folder: Path, export: Export) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    path = folder / "collection.json"
    if path.is_file():
        doc = copy.deepcopy(json.loads(path.read_text()))
    doc.update({"type": "Collection", "id": entry.id, "title": entry.config.title,
                "description": entry.config.description or doc.get("description") or entry.config.title})
    doc.setdefault("stac_version", "1.0.0")
    doc.setdefault("license", "other")
    doc["keywords"] = entry.config.keywords or doc.get("keywords", [])
    doc["extent"] = {"spatial": {"bbox": [list(entry.bbox)]},
                     "temporal": {"interval": [list(entry.temporal)]}}
    doc["links"] = [link for link in doc.get("links", []) if link.get("rel") not in ("root", "parent", "self", "item", "child")]
    for key, asset in doc.get("assets", {}).items():
        local = _local(asset["href"], folder)
        if local is not None:
            asset["href"] = _publish(export, f"{entry.id}/{local.name}", local)
    return doc


def export_catalog(catalog: Catalog, work_dir: Path) -> Export:
    """The STAC documents of every STAC-backed raster entry; thumbnails are cached under work_dir."""
    export = Export()
    for entry in catalog.rasters.values():
        folder = entry.stac_folder
        if folder is None:
            continue
        export.collections.append(_collection(entry, folder, export))
        for path in sorted(folder.glob("*.json")):
            doc = json.loads(path.read_text())
            if doc.get("type") == "Feature":
                export.items.append(_item(doc, entry.id, path.parent, export, work_dir / "thumbnails", entry))
    return export


def absolute_hrefs(doc: Any, base: str) -> Any:
    """Turn the exported root-relative asset hrefs of a STAC document (Item, ItemCollection,
    Collection or a list of them) into absolute URLs under `base`, in place."""
    if isinstance(doc, dict):
        for asset in (doc.get("assets") or {}).values():
            if isinstance(asset, dict) and str(asset.get("href", "")).startswith(ASSET_ROOT):
                asset["href"] = base + asset["href"]
        for key in ("features", "collections"):
            if isinstance(doc.get(key), list):
                absolute_hrefs(doc[key], base)
    elif isinstance(doc, list):
        for d in doc:
            absolute_hrefs(d, base)
    return doc
