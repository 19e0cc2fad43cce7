"""Collection configuration (collections/catalog.yaml) -> typed models the routes and the engine use.

Clients name collections by id; only the catalog maps ids to files or URLs, and a URL must start
with a prefix the settings allow, so no request can make the server fetch an arbitrary address.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from processes.engine.grid import crs_of
from processes.engine.reader import dataset_info
from processes.engine.sources import ItemSource, Source, cog_source, mosaic_source
from processes.engine.stac import items_from_catalog, items_from_folder, items_from_search, stac_source

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
    stac: str | None = Field(None, description="A static STAC catalog or collection: folder, file or allowed URL")
    stac_api: str | None = Field(None, description="A STAC API (allowed URL) searched with `search`")
    search: dict[str, Any] = Field(default_factory=dict, description="pystac-client search parameters")
    mosaic: list[str] | None = Field(None, description="Raster collections defined above, later ones on top")
    bands: list[str] | None = None
    render: RenderDefaults = Field(default_factory=RenderDefaults)
    id_field: str = "id"
    time_field: str | None = None


@dataclass(frozen=True)
class RasterEntry:
    id: str
    config: CollectionConfig
    collection: Source
    bbox: tuple[float, float, float, float]  # WGS84
    crs: str
    resolution: float  # native pixel size in source units
    temporal: tuple[str | None, str | None] = (None, None)
    stac_folder: Path | None = None  # local folder of the STAC Item files (published by the STAC API)


@dataclass(frozen=True)
class FeatureEntry:
    id: str
    config: CollectionConfig
    path: Path


@dataclass
class Catalog:
    rasters: dict[str, RasterEntry] = field(default_factory=dict)
    features: dict[str, FeatureEntry] = field(default_factory=dict)

    def collection(self, cid: str) -> Source:
        """The engine's view of a raster collection (KeyError when unknown)."""
        return self.rasters[cid].collection


def _allowed(settings: Settings):
    return lambda url: any(url.startswith(p) for p in settings.allowed_remote_prefixes)


def _checked_href(href: str, settings: Settings) -> str:
    if "://" in href:
        if not _allowed(settings)(href):
            raise ValueError(f"catalog href {href!r} is not under an allowed remote prefix")
        return "/vsicurl/" + href if href.startswith("http") else href
    p = Path(href)
    return str(p if p.is_absolute() else settings.data_dir / p)


def _version(source: ItemSource) -> str:
    """Modification times of the local files (remote files: their URLs), so cached tiles and
    ETags change when the data does."""
    stamps = [str(int(os.stat(a.href).st_mtime)) if os.path.exists(a.href) else a.href
              for i in source.items for a in i.assets]
    return hashlib.sha1("-".join(stamps).encode()).hexdigest()[:16]


def _source(cid: str, cfg: CollectionConfig, settings: Settings, demo: dict[str, Path],
            known: dict[str, "RasterEntry"]) -> ItemSource:
    """The configured source adapter: a mosaic of other collections, a static STAC catalog, a
    STAC API search, or a single COG."""
    allowed = _allowed(settings)
    if cfg.mosaic:
        missing = [m for m in cfg.mosaic if m not in known]
        if missing:
            raise ValueError(f"mosaic {cid!r}: unknown collection(s) {missing} (define them first)")
        return mosaic_source(cid, [known[m].collection for m in cfg.mosaic])
    if cfg.demo == "s2_items":
        return stac_source(cid, items_from_folder(demo["s2_items"]))
    if cfg.stac:
        href = cfg.stac if "://" in cfg.stac else _checked_href(cfg.stac, settings)
        items = items_from_folder(Path(href)) if Path(href).is_dir() else items_from_catalog(href, allowed)
        return stac_source(cid, items)
    if cfg.stac_api:
        return stac_source(cid, items_from_search(cfg.stac_api, cfg.search, allowed))
    href = str(demo[cfg.demo]) if cfg.demo else _checked_href(cfg.href or "", settings)
    return cog_source(cid, href, tuple(cfg.bands) if cfg.bands else None, cfg.render.resampling)


def _raster_entry(cid: str, cfg: CollectionConfig, settings: Settings, demo: dict[str, Path],
                  known: dict[str, "RasterEntry"]) -> RasterEntry:
    source = _source(cid, cfg, settings, demo, known)
    source.version = _version(source)
    infos = [dataset_info(i.assets[0].href) for i in source.items]
    finest = min(infos, key=lambda info: abs(info.levels[0].transform[0]) * (1 if crs_of(info.crs).is_geographic else 1 / 111320.0))
    return RasterEntry(cid, cfg, source, source.bbox, infos[0].crs, finest.levels[0].transform[0], source.temporal,
                       _stac_folder(cfg, settings, demo))


def _stac_folder(cfg: CollectionConfig, settings: Settings, demo: dict[str, Path]) -> Path | None:
    if cfg.demo == "s2_items":
        return demo["s2_items"]
    if cfg.stac and "://" not in cfg.stac and Path(_checked_href(cfg.stac, settings)).is_dir():
        return Path(_checked_href(cfg.stac, settings))
    return None


def load_catalog(settings: Settings, demo: dict[str, Path]) -> Catalog:
    doc = yaml.safe_load(Path(settings.catalog).read_text())
    cat = Catalog()
    for cid, raw in (doc.get("collections") or {}).items():
        cfg = CollectionConfig(**raw)
        if cfg.type == "raster":
            cat.rasters[cid] = _raster_entry(cid, cfg, settings, demo, cat.rasters)
        else:
            path = demo[cfg.demo] if cfg.demo else Path(_checked_href(cfg.href or "", settings))
            json.loads(Path(path).read_text())  # fail at start, not on the first request
            cat.features[cid] = FeatureEntry(cid, cfg, Path(path))
    return cat
