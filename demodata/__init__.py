"""Deterministic builder of the embedded demo data the service starts on (no internet).

Layers (reproducible bit for bit from constant seeds), name -> path as ``build_demo_data`` returns:

* ``dem``: global EPSG:4326 int16 DEM (metres), ``dem_{width}.tif`` (see :mod:`.terrain`);
* ``dem_detail``: the same terrain at 1 arc-second over a 1 x 0.5 degree region around the AOI;
* ``s2_items``: a folder of Sentinel-2 L2A-like scenes 2021-2023 (one COG per band, SCL, a
  thumbnail and a STAC Item each) and ``collection.json`` (see :mod:`.sentinel2`, :mod:`.stac`);
* ``landcover``: the land cover the scenes were drawn from (the generator's truth, :mod:`.truth`);
* ``parcels``, ``protected_sites``, ``fire_perimeters``: GeoJSON in CRS84 (:mod:`.vectors`).

The AOI-dependent layers live in ``data_dir/<size>/`` (size "default" or "large", see
:mod:`.sizes`); the DEMs are shared. Usage: ``build_demo_data(Path("var/data"))`` or
``python -m demodata --data-dir var/data [--size default|large] [--force]``.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from filelock import FileLock

from . import landscape, sentinel2, stac, terrain, vectors, writers
from .scenes import calendar
from .sizes import SIZES, window
from .thumbnails import write_thumbnail

__all__ = ["build_demo_data", "expected_paths", "SIZES"]

log = logging.getLogger("geodeferred.demodata")


def expected_paths(data_dir: Path, size: str = "default", dem_width: int = 4320) -> dict[str, Path]:
    """Where build_demo_data puts each layer (without building anything)."""
    window(size)  # validates the name
    data_dir = Path(data_dir)
    aoi = data_dir / size
    return {
        "dem": data_dir / f"dem_{dem_width}.tif",
        "dem_detail": data_dir / "dem_detail.tif",
        "s2_items": aoi / "sentinel2",
        "landcover": aoi / "landcover.tif",
        "protected_sites": aoi / "protected_sites.geojson",
        "parcels": aoi / "parcels.geojson",
        "fire_perimeters": aoi / "fire_perimeters.geojson",
    }


def build_demo_data(data_dir: Path, *, size: str = "default", dem_width: int = 4320,
                    force: bool = False) -> dict[str, Path]:
    """Build (idempotently: skip files that already exist unless ``force``) and return name -> path.

    Safe to call from several processes at once: the whole build holds ``data_dir/.build.lock``
    and every file is moved into place atomically (a scene's STAC Item is written last).
    """
    if dem_width < 16 or dem_width % 2:
        raise ValueError(f"dem_width must be an even number >= 16, got {dem_width}")
    paths = expected_paths(data_dir, size, dem_width)
    win = window(size)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with FileLock(str(data_dir / ".build.lock")):
        _remove_leftovers(data_dir)
        _step(paths["dem"], force, "global DEM", lambda p: _build_dem(p, dem_width))
        _step(paths["dem_detail"], force, "regional 1 arc-second DEM", _build_dem_detail)
        for name, make in vectors.GEOJSON.items():
            _step(paths[name], force, name, lambda p, make=make: writers.write_json(p, make(win)))
        _step(paths["landcover"], force, "land cover", lambda p: _build_landcover(p, win))
        _build_sentinel2(paths["s2_items"], win, force)
    log.info("demo data (%s) ready in %s (%.1fs)", size, data_dir, time.perf_counter() - t0)
    return paths


def _step(path: Path, force: bool, what: str, build) -> None:
    if path.exists() and not force:
        return
    t0 = time.perf_counter()
    log.info("demo data: building %s ...", what)
    build(path)
    log.info("demo data: built %s (%s) in %.1fs", what, path.name, time.perf_counter() - t0)


def _remove_leftovers(data_dir: Path) -> None:
    """Delete temp files of a builder that died mid-write (safe: we hold the build lock)."""
    for pattern in ("**/.*.tmp.*", "**/.*.scratch.*"):
        for p in data_dir.glob(pattern):
            p.unlink(missing_ok=True)


def _build_dem(path: Path, width: int) -> None:
    terrain.continental_fields()  # fill the cache once, before the block threads share it
    writers.write_dem(path, width, width // 2, (-180.0, -90.0, 180.0, 90.0),
                      lambda row0, n: terrain.dem_block(row0, n, width), nodata=terrain.DEM_NODATA)


def _build_dem_detail(path: Path) -> None:
    terrain.continental_fields()
    w, h = terrain.detail_shape()
    writers.write_dem(path, w, h, terrain.DETAIL_BOUNDS, terrain.detail_block, nodata=terrain.DEM_NODATA)


def _build_landcover(path: Path, win: landscape.Window) -> None:
    lc, _ = sentinel2.landcover(win)
    writers.write_cog_array(path, lc, nodata=0, resampling="nearest", descriptions=["landcover"],
                            tags={f"CLASS_{k}": v for k, v in sentinel2.LANDCOVER_CLASSES.items()},
                            crs=landscape.AOI_CRS, transform=sentinel2.transform(win))


def _build_scene(folder: Path, win: landscape.Window, scene) -> None:
    """Write the band COGs, SCL and thumbnail of one scene, then its STAC Item (last)."""
    files = stac.scene_files(scene)
    bands, scl = sentinel2.scene_arrays(win, scene)
    for name, data in bands.items():
        res = 10.0 if data.shape[0] == win.pixels else 20.0
        writers.write_cog_array(folder / files[name], data, nodata=0, resampling="average", descriptions=[name],
                                compress="ZSTD", zlevel=1, crs=landscape.AOI_CRS, transform=sentinel2.transform(win, res))
    writers.write_cog_array(folder / files["SCL"], scl, nodata=0, resampling="nearest", descriptions=["SCL"],
                            compress="ZSTD", zlevel=1,
                            crs=landscape.AOI_CRS, transform=sentinel2.transform(win, 20.0))
    write_thumbnail(folder / files["thumbnail"], bands["B04"], bands["B03"], bands["B02"])
    writers.write_json(folder / stac.item_file(scene), stac.item(win, scene, sentinel2.cloud_cover(scl)))


def _build_sentinel2(folder: Path, win: landscape.Window, force: bool) -> None:
    """Every missing scene (2 in flight: numpy of one overlaps GDAL compression of the other), then the collection."""
    coll_path = folder / "collection.json"
    scenes = calendar()
    todo = [s for s in scenes if force or not (folder / stac.item_file(s)).exists()]
    if not todo and coll_path.exists():
        return
    t0 = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    log.info("demo data: building %d Sentinel-2 scenes (%d px AOI) ...", len(todo), win.pixels)
    sentinel2.static_layers(win)  # fill the caches once, before the threads share them
    workers = 2 if win.pixels <= 2048 else 1  # a large scene's arrays take ~1 GB
    with ThreadPoolExecutor(max_workers=workers) as ex:
        for i, _ in enumerate(ex.map(lambda s: _build_scene(folder, win, s), todo), start=1):
            if i % 20 == 0 or i == len(todo):
                log.info("demo data: Sentinel-2 scenes %d/%d (%.1fs)", i, len(todo), time.perf_counter() - t0)
    items = [writers.read_json(folder / stac.item_file(s)) for s in scenes]
    writers.write_json(coll_path, stac.collection(win, items))
    log.info("demo data: built %d Sentinel-2 scenes in %.1fs", len(scenes), time.perf_counter() - t0)
