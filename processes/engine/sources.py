"""Raster sources: the engine's one way to read data.

A source is a set of items (scenes, or single files) made of assets (files) holding named bands.
Every kind of data the service reads is one: a local or remote COG is a source of one item; a
static STAC catalog or a STAC API search gives a source of its items; a mosaic of several sources
(a global DEM under a detailed regional one) is a source of all their items, later ones on top.
The catalog, tiles, coverages and jobs all read through `Source`, so no module decides "file or
STAC or mosaic" on its own; adapters that build sources live in `stac.py` and `app/catalog.py`.

Reading a source as one raster mosaics the selected items that cover the grid, newest on top:
one item is returned as it is (a scene with its clouds, for browsing); several give the clear-sky
mosaic, each pixel from the newest item where it is valid and not masked by the source's cloud
mask (e.g. Sentinel-2 SCL cloud, shadow, cirrus and no-data classes), stopping as soon as every
pixel is filled. Reading a source as a series gives one raster per item, unmasked, for reducers.
Only the items whose footprint intersects the grid (and the datetime range and filter) are opened.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Mapping, Protocol, runtime_checkable

import numpy as np
from rasterio.warp import transform_bounds

from ..ops import Raster, Series
from .cancel import checkpoint
from .datetimes import Interval, parse_instant, parse_interval
from .filters import ItemFilter, item_filter
from .grid import Grid
from .reader import Resampling, dataset_info, read

WGS84 = "OGC:CRS84"


@dataclass(frozen=True)
class Asset:
    """One file of an item: its bands, resampling, and the linear scaling of its stored values
    (e.g. Sentinel-2 L2A digital numbers -> reflectance: scale 0.0001, offset -0.1)."""

    href: str
    bands: tuple[str, ...]
    resampling: Resampling = "bilinear"
    scale: tuple[float, ...] | None = None
    offset: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Item:
    id: str
    assets: tuple[Asset, ...]
    datetime: str | None = None
    bbox: tuple[float, float, float, float] | None = None  # WGS84; None: read from the first asset
    properties: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def band_names(self) -> tuple[str, ...]:
        return tuple(b for a in self.assets for b in a.bands)

    def footprint(self) -> tuple[float, float, float, float]:
        if self.bbox is not None:
            return self.bbox
        info = dataset_info(self.assets[0].href)
        return tuple(transform_bounds(info.crs, WGS84, *info.bounds, densify_pts=21))

    def read(self, grid: Grid, bands: tuple[str, ...] | None = None) -> Raster:
        wanted = bands or self.band_names
        arrays: dict[str, np.ndarray] = {}
        valid = np.ones((grid.height, grid.width), bool)
        for asset in self.assets:
            checkpoint()
            picked = [b for b in asset.bands if b in wanted]
            if not picked:
                continue
            positions = [asset.bands.index(b) for b in picked]
            data, ok = read(asset.href, grid, tuple(p + 1 for p in positions), asset.resampling)
            if asset.scale is not None or asset.offset is not None:
                scale = np.array([(asset.scale or (1.0,) * len(asset.bands))[p] for p in positions], np.float32)
                offset = np.array([(asset.offset or (0.0,) * len(asset.bands))[p] for p in positions], np.float32)
                data = data * scale[:, None, None] + offset[:, None, None]
            arrays.update(zip(picked, data))
            valid &= ok
        data = np.stack([arrays[b] for b in wanted]) if wanted else np.zeros((0, grid.height, grid.width), np.float32)
        cx, cy = grid.cell_sizes()
        return Raster(data, valid, tuple(wanted), cx, cy, self.datetime)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["properties"] = dict(self.properties)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Item":
        assets = tuple(Asset(a["href"], tuple(a["bands"]), a.get("resampling", "bilinear"),
                             tuple(a["scale"]) if a.get("scale") else None,
                             tuple(a["offset"]) if a.get("offset") else None) for a in d["assets"])
        return cls(d["id"], assets, d.get("datetime"), tuple(d["bbox"]) if d.get("bbox") else None,
                   d.get("properties") or {})


@dataclass(frozen=True)
class CloudMask:
    """Classes of a band that make a pixel unusable in a mosaic (Sentinel-2 L2A SCL by default:
    0 no data, 1 saturated/defective, 3 cloud shadow, 8/9 cloud, 10 thin cirrus)."""

    band: str = "SCL"
    values: tuple[float, ...] = (0.0, 1.0, 3.0, 8.0, 9.0, 10.0)


@runtime_checkable
class Source(Protocol):
    """What the engine may read. Selections (datetime, filter) are applied to the items."""

    id: str
    version: str  # changes when the data changes (cache keys, ETags)

    @property
    def band_names(self) -> tuple[str, ...]: ...

    @property
    def bbox(self) -> tuple[float, float, float, float]: ...

    @property
    def is_series(self) -> bool: ...

    def queryables(self) -> set[str]: ...

    def select(self, datetime: str | None = None, filter: str | None = None) -> tuple[Item, ...]: ...

    def read(self, grid: Grid, bands: tuple[str, ...] | None = None, datetime: str | None = None,
             filter: str | None = None) -> Raster: ...

    def read_series(self, grid: Grid, bands: tuple[str, ...] | None, datetime: str | None = None,
                    filter: str | None = None) -> Series: ...

    def to_dict(self) -> dict[str, Any]: ...

    def narrowed(self, reads: Iterable[tuple[Grid, str | None, str | None]]) -> "Source":
        """The source holding only what these reads (grid, datetime, filter) may touch, which reads
        exactly as the whole source with each of them: what one chunk task carries to a worker."""
        ...


@lru_cache(maxsize=4096)
def _wgs84_bounds(grid: Grid) -> tuple[float, float, float, float]:
    if grid.crs in (WGS84, "EPSG:4326"):
        return grid.bounds
    return tuple(transform_bounds(grid.crs, WGS84, *grid.bounds, densify_pts=21))


def _instant(text: str | None) -> float:
    return parse_instant(text).timestamp() if text else float("nan")


class ItemSource:
    """A source made of items, with a spatial and temporal index over them (numpy arrays: a few
    thousand items are compared in microseconds per tile)."""

    def __init__(self, id: str, items: tuple[Item, ...], version: str = "",
                 cloud_mask: CloudMask | None = None) -> None:
        if not items:
            raise ValueError(f"source {id!r} has no items")
        self.id = id
        # oldest first; undated items keep their order (later ones on top)
        order = sorted(range(len(items)), key=lambda k: (items[k].datetime or "", k))
        self.items = tuple(items[k] for k in order)
        self.version = version
        self.cloud_mask = cloud_mask if cloud_mask and cloud_mask.band in self.items[0].band_names else None
        self._boxes = np.array([i.footprint() for i in self.items], np.float64)
        self._times = np.array([_instant(i.datetime) for i in self.items], np.float64)

    # -- description -------------------------------------------------------------------------
    @property
    def band_names(self) -> tuple[str, ...]:
        return self.items[0].band_names

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        b = self._boxes
        return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())

    @property
    def is_series(self) -> bool:
        return len(self.items) > 1 and any(i.datetime for i in self.items)

    @property
    def temporal(self) -> tuple[str | None, str | None]:
        times = [i.datetime for i in self.items if i.datetime]
        return (times[0], times[-1]) if times else (None, None)

    def queryables(self) -> set[str]:
        """Item properties a filter may name."""
        names = {"id", "datetime"}
        for i in self.items:
            names.update(i.properties)
        return names

    # -- selection -------------------------------------------------------------------------------
    def _selected(self, datetime: str | None, filter: str | None) -> np.ndarray:
        if not (datetime or filter):
            return np.ones(len(self.items), bool)
        return self._selections(datetime, filter).copy()

    @lru_cache(maxsize=64)  # per (source, datetime, filter): CQL2 on every item once, not per tile
    def _selections(self, datetime: str | None, filter: str | None) -> np.ndarray:
        keep = np.ones(len(self.items), bool)
        if datetime:
            iv: Interval = parse_interval(datetime)
            keep &= (self._times >= iv.start.timestamp()) & (self._times <= iv.end.timestamp())
        if filter:
            f: ItemFilter = item_filter(filter)
            keep &= np.array([f.matches(i) for i in self.items])
        return keep

    def select(self, datetime: str | None = None, filter: str | None = None) -> tuple[Item, ...]:
        """Items within the datetime instant or interval and matching the filter, oldest first."""
        keep = self._selected(datetime, filter)
        return tuple(i for i, k in zip(self.items, keep) if k)

    def _covering(self, grid: Grid, datetime: str | None, filter: str | None) -> np.ndarray:
        w, s, e, n = _wgs84_bounds(grid)
        b = self._boxes
        return self._selected(datetime, filter) & (b[:, 0] < e) & (b[:, 2] > w) & (b[:, 1] < n) & (b[:, 3] > s)

    def covering(self, grid: Grid, datetime: str | None = None, filter: str | None = None) -> tuple[Item, ...]:
        """Selected items whose footprint intersects the grid, oldest first."""
        return tuple(i for i, k in zip(self.items, self._covering(grid, datetime, filter)) if k)

    def narrowed(self, reads: Iterable[tuple[Grid, str | None, str | None]]) -> "ItemSource":
        """Only the items some read covers (a chunk of years of scenes carries the few that overlap
        it, not the catalogue); every read's `covering` is unchanged, so are its pixels."""
        keep = np.zeros(len(self.items), bool)
        for grid, datetime, filter in reads:
            keep |= self._covering(grid, datetime, filter)
        if keep.all():
            return self
        keep[0] |= not keep.any()  # a source has an item; this one covers none of the reads either
        return ItemSource(self.id, tuple(i for i, k in zip(self.items, keep) if k), self.version, self.cloud_mask)

    # -- reading ---------------------------------------------------------------------------------
    def read_series(self, grid: Grid, bands: tuple[str, ...] | None, datetime: str | None = None,
                    filter: str | None = None) -> Series:
        return tuple(i.read(grid, bands) for i in self.covering(grid, datetime, filter))

    def read(self, grid: Grid, bands: tuple[str, ...] | None = None, datetime: str | None = None,
             filter: str | None = None) -> Raster:
        names = tuple(bands or self.band_names)
        items = self.covering(grid, datetime, filter)
        if len(items) == 1:
            return items[0].read(grid, names)
        cm = self.cloud_mask
        reads = names + ((cm.band,) if cm and cm.band not in names else ())
        cx, cy = grid.cell_sizes()
        data = np.zeros((len(names), grid.height, grid.width), np.float32)
        filled = np.zeros((grid.height, grid.width), bool)
        for item in reversed(items):  # newest first, gaps filled from older items
            r = item.read(grid, reads)
            usable = r.mask & ~filled
            if cm is not None:
                usable &= ~np.isin(r.band(cm.band), np.asarray(cm.values, np.float32))
            data[:, usable] = r.data[: len(names), usable]
            filled |= usable
            if filled.all():
                break
        return Raster(data, filled, names, cx, cy)

    # -- jobs ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"type": "items", "id": self.id, "version": self.version,
                "cloud_mask": asdict(self.cloud_mask) if self.cloud_mask else None,
                "items": [i.to_dict() for i in self.items]}


def source_from_dict(d: Mapping[str, Any]) -> ItemSource:
    """Rebuild a source in a job worker from `Source.to_dict()`."""
    if d.get("type", "items") != "items":
        raise ValueError(f"unknown source type {d.get('type')!r}")
    cm = d.get("cloud_mask")
    return ItemSource(d["id"], tuple(Item.from_dict(i) for i in d["items"]), d.get("version", ""),
                      CloudMask(cm["band"], tuple(cm["values"])) if cm else None)


def cog_source(id: str, href: str, bands: tuple[str, ...] | None = None, resampling: Resampling = "bilinear",
               version: str = "") -> ItemSource:
    """A single (Cloud Optimized) GeoTIFF, local or remote (`/vsicurl/https://...`)."""
    info = dataset_info(href)
    names = tuple(bands or info.band_names)
    if len(names) != info.count:
        raise ValueError(f"{href}: {info.count} band(s) but {len(names)} band name(s) configured")
    return ItemSource(id, (Item(id, (Asset(href, names, resampling),)),), version)


def mosaic_source(id: str, sources: list[ItemSource], version: str = "") -> ItemSource:
    """Several sources as one: items of later sources lie on top of earlier ones where both cover."""
    bands = sources[0].band_names
    for s in sources[1:]:
        if s.band_names != bands:
            raise ValueError(f"mosaic {id!r}: source {s.id!r} has bands {s.band_names}, expected {bands}")
    items = tuple(i for s in sources for i in s.items)
    return ItemSource(id, items, version or "+".join(s.version for s in sources), sources[0].cloud_mask)
