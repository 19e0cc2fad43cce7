"""Deterministic builder of the embedded demo data the service starts on (no internet).

Layers (all reproducible bit-for-bit from constant seeds):

* ``dem_{width}.tif``: global EPSG:4326 int16 DEM (metres) with continents,
  sea floor and ridged mountain ranges, as a COG (see :mod:`.terrain`);
* ``sentinel2/``: 8 Sentinel-2-like L2A scenes 2022-03..2023-10 (6-band
  reflectance COG + SCL COG + STAC Item each), ``collection.json`` and the
  reference ``landcover.tif`` (see :mod:`.sentinel2`);
* ``parcels.geojson``, ``protected_sites.geojson``, ``fire_perimeters.geojson``
  in CRS84 (see :mod:`.landscape`).

Usage: ``build_demo_data(Path("var/data"))`` or
``python -m app.demo_data --data-dir var/data [--dem-width N] [--force]``.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from filelock import FileLock

from . import landscape, sentinel2, stac, terrain, writers

__all__ = ["build_demo_data", "expected_paths"]

log = logging.getLogger(__name__)

_GEOJSON = {
    "protected_sites": landscape.protected_sites_geojson,
    "parcels": landscape.parcels_geojson,
    "fire_perimeters": landscape.fire_perimeters_geojson,
}


def expected_paths(data_dir: Path, dem_width: int = 4320) -> dict[str, Path]:
    """Where build_demo_data puts each layer (without building anything)."""
    data_dir = Path(data_dir)
    return {
        "dem": data_dir / f"dem_{dem_width}.tif",
        "s2_items": data_dir / "sentinel2",
        "protected_sites": data_dir / "protected_sites.geojson",
        "parcels": data_dir / "parcels.geojson",
        "fire_perimeters": data_dir / "fire_perimeters.geojson",
    }


def build_demo_data(data_dir: Path, *, dem_width: int = 4320, force: bool = False) -> dict[str, Path]:
    """Build (idempotently: skip files that already exist unless force) and return a dict name->path:
    'dem' -> data_dir/'dem_{dem_width}.tif', 's2_items' -> data_dir/'sentinel2' (folder),
    'protected_sites' -> data_dir/'protected_sites.geojson', 'parcels' -> data_dir/'parcels.geojson',
    'fire_perimeters' -> data_dir/'fire_perimeters.geojson'

    Safe to call from several processes at once: the whole build holds
    ``data_dir/.build.lock`` and every file is moved into place atomically.
    """
    if dem_width < 16 or dem_width % 2:
        raise ValueError(f"dem_width must be an even number >= 16, got {dem_width}")
    paths = expected_paths(data_dir, dem_width)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(data_dir / ".build.lock")):
        _remove_leftovers(data_dir)
        _build_dem(paths["dem"], dem_width, force)
        _build_sentinel2(paths["s2_items"], force)
        for name, make in _GEOJSON.items():
            if force or not paths[name].exists():
                writers.write_json(paths[name], make())
                log.info("built %s", paths[name])
    return paths


def _remove_leftovers(data_dir: Path) -> None:
    """Delete temp files of a builder that died mid-write (safe: we hold the build lock)."""
    for pattern in (".*.tmp.*", ".*.scratch.*", "sentinel2/.*.tmp.*"):
        for p in data_dir.glob(pattern):
            p.unlink(missing_ok=True)


def _build_dem(path: Path, width: int, force: bool) -> None:
    if path.exists() and not force:
        return
    t0 = time.perf_counter()
    terrain.continental_fields()  # fill the cache once, before the block threads share it
    writers.write_global_dem(path, width, terrain.dem_block, nodata=terrain.DEM_NODATA)
    log.info("built %s (%dx%d) in %.1fs", path, width, width // 2, time.perf_counter() - t0)


def _build_scene(folder: Path, scene: sentinel2.Scene) -> dict:
    """Write the reflectance and SCL COGs of one scene, then its STAC Item (returned)."""
    geo = dict(crs=landscape.AOI_CRS, transform=sentinel2.TRANSFORM)
    refl_name, scl_name, item_name = stac.scene_files(scene)
    refl, scl = sentinel2.scene_arrays(scene)
    writers.write_cog_array(folder / refl_name, refl, nodata=0, resampling="average",
                            descriptions=sentinel2.BANDS, zlevel=5, **geo)  # 2x faster than 6
    writers.write_cog_array(folder / scl_name, scl, nodata=0, resampling="nearest",
                            descriptions=["SCL"], **geo)
    valid = int((scl != 0).sum())
    cover = 100.0 * float(((scl == 8) | (scl == 9)).sum()) / max(valid, 1)
    item = stac.item(scene, cover)
    writers.write_json(folder / item_name, item)  # last: an Item on disk implies complete COGs
    return item


def _scene_item(folder: Path, scene: sentinel2.Scene, rebuild: bool) -> dict:
    if rebuild:
        return _build_scene(folder, scene)
    return json.loads((folder / stac.scene_files(scene)[2]).read_text(encoding="utf-8"))


def _build_sentinel2(folder: Path, force: bool) -> None:
    """One reflectance COG, one SCL COG and one STAC Item per scene, then the collection."""
    t0 = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    geo = dict(crs=landscape.AOI_CRS, transform=sentinel2.TRANSFORM)
    built = False
    lc_path = folder / "landcover.tif"
    if force or not lc_path.exists():
        lc, _ = sentinel2.landcover()
        writers.write_cog_array(lc_path, lc, nodata=0, resampling="nearest", descriptions=["landcover"],
                                tags={f"CLASS_{k}": v for k, v in sentinel2.LANDCOVER_CLASSES.items()}, **geo)
        built = True
    scenes = sentinel2.SCENES
    rebuild = [force or not all((folder / name).exists() for name in stac.scene_files(s)) for s in scenes]
    if any(rebuild):
        sentinel2.static_layers()  # fill the caches once, before the threads share them
    # 2 scenes in flight: the numpy work of one overlaps the GDAL compression of the other
    with ThreadPoolExecutor(max_workers=2) as ex:
        items = list(ex.map(_scene_item, [folder] * len(scenes), scenes, rebuild))
    built = built or any(rebuild)
    coll_path = folder / "collection.json"
    if built or force or not coll_path.exists():
        writers.write_json(coll_path, stac.collection(items))
        log.info("built %s (%d scenes) in %.1fs", folder, len(items), time.perf_counter() - t0)
