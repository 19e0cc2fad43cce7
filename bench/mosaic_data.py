"""Data of the mosaic group: a static STAC folder of exactly 12 Sentinel-2 scenes, the same scenes
as a MosaicJSON for titiler, the tiles every scene covers, and each side's way to name the bands.

The 12 scenes are the newest 12 of the demo's STAC items, whatever their layout (one multi-band
reflectance COG + SCL per scene, or one COG per band): the bench only follows the items' assets
and `eo:bands`. Their files are hard links in var/bench/data/s2bench12/ (distinct file names to
GDAL, no copy). When the demo has fewer than 12 scenes, the missing ones are re-dated copies of
the oldest (same pixels, new id and date, 10 days apart before the oldest), and the bench says so.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .data import DATA_DIR, Tile, tiles_in_bounds

N_SCENES = 12
FOLDER = DATA_DIR / "s2bench12"
COLLECTION = "s2bench12"  # our catalog id of the folder
ZOOMS = range(11, 16)


@dataclass(frozen=True)
class BandRef:
    """Where a band lives in a scene: the STAC asset key, its 1-based index there, its scaling."""

    asset: str
    bidx: int
    scale: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True)
class SceneSet:
    folder: Path
    items: tuple[Path, ...]  # the 12 item documents, oldest first
    ids: tuple[str, ...]
    datetimes: tuple[str, ...]
    copies: int  # how many of them are re-dated copies (0 with a demo of >= 12 scenes)
    bounds: tuple[float, float, float, float]  # WGS84, covered by every scene
    bands: dict[str, BandRef]
    mosaicjson: Path | None  # None without cogeo-mosaic
    layout: str  # "one multi-band COG + SCL" or "one COG per band"

    @property
    def datetime_range(self) -> str:
        return f"{self.datetimes[0]}/{self.datetimes[-1]}"

    def titiler_assets(self, bands: tuple[str, ...]) -> list[str]:
        """rio-tiler `assets=` values giving `bands` in this order, e.g. ["reflectance|bidx=3,2,1"]
        or ["B04", "B03", "B02"]: consecutive bands of one asset are read in one go."""
        groups: list[tuple[str, list[int]]] = []
        for b in bands:
            ref = self.bands[b]
            if groups and groups[-1][0] == ref.asset:
                groups[-1][1].append(ref.bidx)
            else:
                groups.append((ref.asset, [ref.bidx]))
        return [a if idx == [1] else f"{a}|bidx={','.join(map(str, idx))}" for a, idx in groups]

    def stored(self, band: str, value: float) -> float:
        """A physical value (reflectance) as the stored digital number titiler reads unscaled."""
        ref = self.bands[band]
        return (value - ref.offset) / ref.scale


def _demo_items(s2_dir: Path) -> list[tuple[Path, dict]]:
    docs = [(p, json.loads(p.read_text())) for p in sorted(s2_dir.glob("*.json"))]
    docs = [(p, d) for p, d in docs if d.get("type") == "Feature"]
    return sorted(docs, key=lambda pd: (pd[1]["properties"].get("datetime") or "", pd[1]["id"]))


def _link(src: Path, dst: Path) -> None:
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:  # another file system
        shutil.copyfile(src, dst)


def _band_refs(doc: dict) -> dict[str, BandRef]:
    refs: dict[str, BandRef] = {}
    for key, a in sorted(doc["assets"].items()):
        if not str(a.get("type", "image/tiff")).startswith("image/tiff"):
            continue
        names = [b.get("name") for b in a.get("eo:bands") or a.get("bands") or []]
        if not names or not all(names):
            names = [key.upper() if key.lower() == "scl" else key]
        rb = a.get("raster:bands") or [{}] * len(names)
        for i, n in enumerate(names):
            refs[n] = BandRef(key, i + 1, float(rb[i].get("scale", 1.0)), float(rb[i].get("offset", 0.0)))
    return refs


def build(s2_dir: Path, folder: Path = FOLDER, n: int = N_SCENES) -> SceneSet:
    """(Re)write the folder of n scenes from the demo's items (cheap: links and small JSON files)."""
    demo = _demo_items(s2_dir)
    if not demo:
        raise RuntimeError(f"no STAC item in {s2_dir}")
    chosen = [(p, d, None) for p, d in demo[-n:]]
    oldest = datetime.fromisoformat(demo[0][1]["properties"]["datetime"].replace("Z", "+00:00"))
    for k in range(n - len(chosen)):  # pad: re-dated copies of the oldest scenes
        p, d = demo[k % len(demo)]
        when = oldest - timedelta(days=10 * (n - len(demo) - k))
        chosen.insert(k, (p, d, when))
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    items, ids, times, boxes = [], [], [], []
    for p, d, when in chosen:
        doc = json.loads(json.dumps(d))
        if when is not None:
            doc["id"] = f"{d['id']}_copy_{when:%Y-%m-%d}"
            doc["properties"]["datetime"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        for key, a in doc["assets"].items():
            src = (p.parent / a["href"]).resolve() if "://" not in a["href"] else None
            if src is None or not src.exists():
                continue
            name = f"{doc['id']}_{key}{''.join(src.suffixes)}"
            _link(src, folder / name)
            a["href"] = f"./{name}"
        doc["links"] = []
        path = folder / f"{doc['id']}.json"
        path.write_text(json.dumps(doc, indent=1))
        items.append(path)
        ids.append(doc["id"])
        times.append(doc["properties"]["datetime"])
        boxes.append(doc["bbox"][:2] + doc["bbox"][-2:])
    bounds = (max(b[0] for b in boxes), max(b[1] for b in boxes), min(b[2] for b in boxes), min(b[3] for b in boxes))
    bands = _band_refs(json.loads(items[-1].read_text()))
    data_assets = {r.asset for r in bands.values()}
    layout = "one COG per band" if len(data_assets) == len(bands) else "multi-band COG(s) + SCL"
    mj = folder.parent / f"{folder.name}_mosaic.json"
    if not _write_mosaicjson(items, mj):
        mj = None
    return SceneSet(folder, tuple(items), tuple(ids), tuple(times), n - min(n, len(demo)), bounds, bands, mj, layout)


def _write_mosaicjson(items: list[Path], out: Path) -> bool:
    """A MosaicJSON whose assets are the item documents (titiler reads them with STACReader);
    False without cogeo-mosaic (the `bench` extra)."""
    try:
        from cogeo_mosaic.mosaic import MosaicJSON
    except ImportError:
        return False

    feats = []
    for p in items:
        d = json.loads(p.read_text())
        feats.append({"type": "Feature", "geometry": d["geometry"], "properties": {"path": str(p)}})
    m = MosaicJSON.from_features(feats, minzoom=min(ZOOMS), maxzoom=max(ZOOMS), quiet=True,
                                 accessor=lambda f: f["properties"]["path"])
    out.write_text(m.model_dump_json(exclude_none=True))
    return True


def tiles(scenes: SceneSet, count: int, seed: int) -> list[Tile]:
    """Distinct tiles at zooms 11..15 whose centre lies where all 12 scenes are, evenly over zooms."""
    return tiles_in_bounds(scenes.bounds, ZOOMS, count, seed)
