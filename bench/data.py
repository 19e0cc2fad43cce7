"""Bench data: the demo DEMs (small and 10x larger), one Sentinel-2 scene, the bench catalog, tile lists.

Everything lives under var/bench/ (gitignored) and is built once: a second run reuses it.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import morecantile
import numpy as np
import rasterio
import yaml
from rasterio.warp import transform_bounds

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
DATA_DIR = VAR / "data"
JOBS_DIR = VAR / "jobs"
CATALOG = VAR / "catalog.yaml"
WMQ = morecantile.tms.get("WebMercatorQuad")
S2_BANDS = ("B02", "B03", "B04", "B08")  # the 10 m bands, stacked into one plain COG for both servers
DEM_ZOOMS = range(2, 10)
S2_ZOOMS = range(11, 16)

Tile = tuple[int, int, int]  # (z, x, y): x = column, y = row


@dataclass(frozen=True)
class BenchData:
    small_dem: Path
    large_dem: Path
    s2_cog: Path
    small_width: int
    large_width: int
    build_seconds: dict[str, float | str]


def build(small_width: int, large_width: int, large: bool = True) -> BenchData:
    """Build (or reuse) the demo data; the large DEM (skipped with large=False) only adds its own
    file to the same folder."""
    build_demo_data, expected_paths = demo_builder()

    timings: dict[str, float | str] = {}
    for label, width in (("small", small_width), ("large", large_width))[: 2 if large else 1]:
        dem = expected_paths(DATA_DIR, dem_width=width)["dem"]
        if dem.exists():
            timings[f"{label}_dem_{width}"] = "cached"
            continue
        print(f"building the {label} demo DEM ({width} x {width // 2}) in {DATA_DIR} ...", flush=True)
        t0 = time.perf_counter()
        build_demo_data(DATA_DIR, dem_width=width)
        timings[f"{label}_dem_{width}"] = round(time.perf_counter() - t0, 1)
    paths = expected_paths(DATA_DIR, dem_width=small_width)
    return BenchData(paths["dem"], expected_paths(DATA_DIR, dem_width=large_width)["dem"], s2_scene_cog(paths["s2_items"]),
                     small_width, large_width, timings)


def s2_scene_cog(folder: Path) -> Path:
    """One clear, full-footprint summer scene's 10 m bands stacked into one COG (built once).

    The demo keeps one COG per band like real L2A collections; a single multi-band file lets
    titiler and our service read the very same bytes through one asset each.
    """
    from demodata import stac
    from demodata.scenes import calendar
    from demodata.writers import write_cog_array

    scene = next(s for s in calendar() if s.date.year == 2022 and s.date.month == 7 and s.cloud == 0 and s.swath_cut == 0)
    out = VAR / f"{scene.id}_10m.tif"
    if not out.exists():
        files = stac.scene_files(scene)
        arrays = []
        for b in S2_BANDS:
            with rasterio.open(folder / files[b]) as ds:
                arrays.append(ds.read(1))
                crs, transform = ds.crs, ds.transform
        write_cog_array(out, np.stack(arrays), crs=crs.to_string(), transform=transform, nodata=0,
                        resampling="average", descriptions=S2_BANDS)
    return out


def demo_builder():
    """The demo-data generator (its own package `demodata`, formerly `app.demo_data`)."""
    try:
        from demodata import build_demo_data, expected_paths
    except ImportError:
        from app.demo_data import build_demo_data, expected_paths
    return build_demo_data, expected_paths


def write_catalog(data: BenchData, resampling: str, mosaic_folder: Path | None = None) -> Path:
    """The project's catalog plus `dem_large` (the 10x DEM), `s2scene` (one reflectance COG) and
    the mosaic group's static STAC folder of 12 scenes (`mosaic_folder`, under DATA_DIR).

    Every raster the bench reads gets the same resampling as the titiler baseline is asked for.
    """
    doc = yaml.safe_load((ROOT / "collections" / "catalog.yaml").read_text())
    cols = doc["collections"]
    cols["dem"]["render"]["resampling"] = resampling
    if data.large_dem.exists():  # not built for a run of the mosaic group alone
        cols["dem_large"] = {**cols["dem"], "title": f"Demo DEM {data.large_width} px (bench)",
                             "demo": None, "href": data.large_dem.name}
    if data.s2_cog.exists():  # a demo with one COG per band has no multi-band reflectance file
        with rasterio.open(data.s2_cog) as ds:
            bands = list(ds.descriptions)
        cols["s2scene"] = {"type": "raster", "title": f"Sentinel-2 scene {data.s2_cog.stem} (bench)",
                           "href": str(data.s2_cog), "bands": bands,  # digital numbers: L2A offset +1000
                           "render": {"bands": ["B04", "B03", "B02"], "rescale": [1000, 4000], "resampling": resampling}}
    if mosaic_folder is not None:  # the mosaic group's 12 scenes, rendered like the demo collection
        cols[mosaic_folder.name] = {"type": "raster", "title": "12 Sentinel-2 scenes (bench)",
                                    "stac": mosaic_folder.name, "render": dict(cols["sentinel2"]["render"])}
    VAR.mkdir(parents=True, exist_ok=True)
    CATALOG.write_text(yaml.safe_dump(doc, sort_keys=False))
    return CATALOG


def s2_band_index(cog: Path, name: str) -> int:
    """1-based index of a band by its description (titiler's expressions use b1, b2, ...)."""
    with rasterio.open(cog) as ds:
        return list(ds.descriptions).index(name) + 1


def dem_tiles(count: int, seed: int) -> list[Tile]:
    """Distinct random tiles over the whole globe (land and sea), spread evenly over zooms 2..9,
    shuffled so that any prefix is the same mix (a time-bounded run stays representative)."""
    rng = random.Random(seed)
    zooms = list(DEM_ZOOMS)
    per_zoom = {z: 0 for z in zooms}
    left = count
    for z in zooms:  # zooms with few tiles give all they have, the rest share what is left
        share = left // (len(zooms) - zooms.index(z))
        per_zoom[z] = min(share, 4 ** z)
        left -= per_zoom[z]
    tiles: list[Tile] = []
    for z, n in per_zoom.items():
        side = 2 ** z
        picks = rng.sample(range(side * side), n)
        tiles += [(z, i % side, i // side) for i in picks]
    rng.shuffle(tiles)
    return tiles


def scene_tiles(cog: Path, count: int, seed: int) -> list[Tile]:
    """Distinct tiles at zooms 11..15 whose centre lies inside the scene, evenly spread over zooms."""
    with rasterio.open(cog) as ds:
        bounds = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
    return tiles_in_bounds(bounds, S2_ZOOMS, count, seed)


def tiles_in_bounds(bounds: tuple[float, float, float, float], zooms: range, count: int, seed: int) -> list[Tile]:
    """Distinct tiles whose centre lies inside WGS84 `bounds`, evenly spread over `zooms`, shuffled."""
    w, s, e, n = bounds
    rng = random.Random(seed)
    by_zoom = {}
    for z in zooms:
        inside = []
        for t in WMQ.tiles(w, s, e, n, [z]):
            b = WMQ.bounds(t)
            cx, cy = (b.left + b.right) / 2, (b.bottom + b.top) / 2
            if w < cx < e and s < cy < n:
                inside.append((t.z, t.x, t.y))
        rng.shuffle(inside)
        by_zoom[z] = inside
    tiles: list[Tile] = []
    left, zs = count, list(zooms)
    for i, z in enumerate(zs):
        share = left // (len(zs) - i)
        take = by_zoom[z][:share]
        tiles += take
        left -= len(take)
    rng.shuffle(tiles)
    return tiles
