"""Collection configuration (collections/catalog.yaml) -> typed models the routes and the engine use.

Clients name collections by id; only the catalog maps ids to files or URLs, and a URL must start
with a prefix the settings allow, so no request can make the server fetch an arbitrary address.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from rasterio.warp import transform_bounds
from pydantic import BaseModel, ConfigDict, Field

from processes.engine.reader import dataset_info
from processes.engine.sources import Asset, Collection, Item
from processes.engine.stac import items_from_folder

from .settings import Settings


class RenderDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    colormap: str | None = None
    rescale: tuple[float, float] | None = None
    bands: list[str] | None = None
    resampling: Literal["nearest", "bilinear"] = "bilinear"


class CollectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["raster", "features"]
    title: str
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    demo: str | None = None
    href: str | None = None
    stac: str | None = None
    bands: list[str] | None = None
    render: RenderDefaults = Field(default_factory=RenderDefaults)
    id_field: str = "id"
    time_field: str | None = None


@dataclass(frozen=True)
class RasterEntry:
    id: str
    config: CollectionConfig
    collection: Collection
    bbox: tuple[float, float, float, float]  # WGS84
    crs: str
    resolution: float  # native pixel size in source units
    temporal: tuple[str | None, str | None] = (None, None)


@dataclass(frozen=True)
class FeatureEntry:
    id: str
    config: CollectionConfig
    path: Path


@dataclass
class Catalog:
    rasters: dict[str, RasterEntry] = field(default_factory=dict)
    features: dict[str, FeatureEntry] = field(default_factory=dict)

    def collection(self, cid: str) -> Collection:
        """The engine's view of a raster collection (KeyError when unknown)."""
        return self.rasters[cid].collection


def _checked_href(href: str, settings: Settings) -> str:
    if "://" in href:
        if not any(href.startswith(p) for p in settings.allowed_remote_prefixes):
            raise ValueError(f"catalog href {href!r} is not under an allowed remote prefix")
        return "/vsicurl/" + href if href.startswith("http") else href
    p = Path(href)
    return str(p if p.is_absolute() else settings.data_dir / p)


def _raster_entry(cid: str, cfg: CollectionConfig, settings: Settings, demo: dict[str, Path]) -> RasterEntry:
    if cfg.demo == "s2_items" or cfg.stac:
        folder = demo["s2_items"] if cfg.demo else Path(_checked_href(cfg.stac, settings))
        items = items_from_folder(folder)
    else:
        href = str(demo[cfg.demo]) if cfg.demo else _checked_href(cfg.href or "", settings)
        info = dataset_info(href)
        bands = tuple(cfg.bands or info.band_names)
        items = (Item(cid, (Asset(href, bands, cfg.render.resampling),)),)
    if not items:
        raise ValueError(f"collection {cid!r} has no items")
    first = dataset_info(items[0].assets[0].href)
    infos = [dataset_info(i.assets[0].href) for i in items]
    boxes = [transform_bounds(info.crs, "EPSG:4326", *info.bounds) for info in infos]
    bbox = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
    version = "-".join(f"{int(os.stat(a.href).st_mtime)}" for i in items for a in i.assets if os.path.exists(a.href))
    times = sorted(i.datetime for i in items if i.datetime)
    return RasterEntry(cid, cfg, Collection(cid, items, version), bbox, first.crs,
                       first.levels[0].transform[0], (times[0] if times else None, times[-1] if times else None))


def load_catalog(settings: Settings, demo: dict[str, Path]) -> Catalog:
    doc = yaml.safe_load(Path(settings.catalog).read_text())
    cat = Catalog()
    for cid, raw in (doc.get("collections") or {}).items():
        cfg = CollectionConfig(**raw)
        if cfg.type == "raster":
            cat.rasters[cid] = _raster_entry(cid, cfg, settings, demo)
        else:
            path = demo[cfg.demo] if cfg.demo else Path(_checked_href(cfg.href or "", settings))
            json.loads(Path(path).read_text())  # fail at start, not on the first request
            cat.features[cid] = FeatureEntry(cid, cfg, Path(path))
    return cat
