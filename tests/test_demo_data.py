"""Tests of the embedded demo data builder (app.demo_data).

One small build (720 px DEM, 3 of the 8 Sentinel-2 scenes) shared by the module
keeps the file fast; the generators are the same as for the full build.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.features import rasterize
from rio_cogeo.cogeo import cog_validate
from scipy import ndimage
from shapely.geometry import box, shape
from shapely.ops import transform as shp_transform

from app import demo_data
from app.demo_data import landscape, sentinel2, terrain
from app.demo_data.__main__ import main as cli_main
from app.demo_data.writers import atomic_output

DEM_WIDTH = 720
# pre-fire crop peak, just after the 2022 fire, and the partial-footprint scene
TEST_DATES = ("2022-07-06", "2022-08-30", "2023-05-17")
SCL_CODES = set(sentinel2.SCL_CLASSES)
ALL_SCENES = sentinel2.SCENES  # before the module fixture narrows it
TO_UTM = Transformer.from_crs("OGC:CRS84", landscape.AOI_CRS, always_xy=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    scenes = tuple(s for s in ALL_SCENES if s.date.isoformat() in TEST_DATES)
    assert len(scenes) == len(TEST_DATES)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sentinel2, "SCENES", scenes)
        data_dir = tmp_path_factory.mktemp("demo")
        yield demo_data.build_demo_data(data_dir, dem_width=DEM_WIDTH)


def read(path: Path, **kw) -> np.ndarray:
    with rasterio.open(path, **kw) as ds:
        return ds.read()


def scene_path(built, day: str, kind: str) -> Path:
    return built["s2_items"] / f"S2_{day}_{kind}.tif"


def all_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.rglob("*") if p.is_file() and p.name != ".build.lock")


def ndvi(refl: np.ndarray) -> np.ndarray:
    red, nir = refl[2].astype(np.float32), refl[3].astype(np.float32)
    return (nir - red) / np.maximum(nir + red, 1)


def utm_mask(geoms) -> np.ndarray:
    shapes = [(shp_transform(TO_UTM.transform, g), 1) for g in geoms]
    return rasterize(shapes, out_shape=(landscape.SIZE,) * 2, transform=sentinel2.TRANSFORM, dtype="uint8") > 0


def load_geojson(path: Path) -> list[dict]:
    doc = json.loads(path.read_text())
    assert doc["type"] == "FeatureCollection"
    return doc["features"]


# ---------------------------------------------------------------- API / layout
def test_returned_paths(built):
    d = built["dem"].parent
    assert built == {
        "dem": d / f"dem_{DEM_WIDTH}.tif",
        "s2_items": d / "sentinel2",
        "protected_sites": d / "protected_sites.geojson",
        "parcels": d / "parcels.geojson",
        "fire_perimeters": d / "fire_perimeters.geojson",
    }
    assert all(p.exists() for p in built.values())
    names = {p.name for p in built["s2_items"].iterdir()}
    for day in TEST_DATES:
        assert {f"S2_{day}.json", f"S2_{day}_reflectance.tif", f"S2_{day}_SCL.tif"} <= names
    assert {"collection.json", "landcover.tif"} <= names
    assert not [n for n in names if n.startswith(".")], "no temp files left behind"


def test_full_scene_list_covers_two_years_and_both_fires():
    days = [s.date for s in ALL_SCENES]
    assert len(days) == 8 and days == sorted(days)
    assert days[0] <= date(2022, 3, 31) and days[-1] >= date(2023, 10, 1)
    for fire in landscape.fires():
        assert any(d < fire.date for d in days if d.year == fire.date.year)
        assert any(d > fire.date for d in days if d.year == fire.date.year)
    assert sum(s.footprint_cut for s in ALL_SCENES) == 1


# ---------------------------------------------------------------- DEM
def test_dem_is_a_valid_global_cog(built):
    valid, errors, _ = cog_validate(built["dem"], quiet=True)
    assert valid, errors
    with rasterio.open(built["dem"]) as ds:
        assert ds.crs.to_epsg() == 4326
        assert (ds.width, ds.height) == (DEM_WIDTH, DEM_WIDTH // 2)
        assert tuple(ds.bounds) == pytest.approx((-180, -90, 180, 90))
        assert ds.nodata == terrain.DEM_NODATA
        assert ds.block_shapes[0] == (512, 512)
        assert ds.overviews(1), "internal overviews expected"
        assert ds.tags()["OVERVIEW_RESAMPLING"] == "AVERAGE"
        assert ds.profile["compress"].lower() == "deflate"
        dem = ds.read(1)
    assert not (dem == terrain.DEM_NODATA).any(), "full global grid: no nodata pixels"
    assert -9000 < dem.min() < -3000 and 3500 < dem.max() < 9000
    land = (dem > 0).mean()
    assert 0.2 < land < 0.55, land


def test_dem_has_relief_not_smooth_noise(built):
    dem = read(built["dem"])[0].astype(np.float32)
    land = dem > 0
    # ridged mountains: steep slopes exist, and local relief (minus a smoothed surface) is large
    px = 40_075_000 / DEM_WIDTH
    gy, gx = np.gradient(dem, px)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))[land]
    assert np.percentile(slope, 99) > 1.0 and np.percentile(slope, 50) < 1.0
    local_relief = np.abs(dem - ndimage.uniform_filter(dem, 5))[land]
    assert np.percentile(local_relief, 99) > 500
    # oceans: continental shelf + deep basins
    sea = dem[dem < 0]
    assert np.median(sea) < -2500 and (sea > -200).mean() > 0.02


def test_dem_blocks_are_coherent_and_resolution_independent():
    full = terrain.dem_block(0, 64, DEM_WIDTH)
    assert np.array_equal(terrain.dem_block(20, 17, DEM_WIDTH), full[20:37])
    # the same continents at twice the resolution
    fine = terrain.dem_block(0, DEM_WIDTH, 2 * DEM_WIDTH).astype(np.float32)
    coarse = terrain.dem_block(0, DEM_WIDTH // 2, DEM_WIDTH).astype(np.float32)
    down = fine.reshape(DEM_WIDTH // 2, 2, DEM_WIDTH, 2).mean(axis=(1, 3))
    assert np.corrcoef(down.ravel(), coarse.ravel())[0, 1] > 0.95
    assert ((down > 0) == (coarse > 0)).mean() > 0.95


# ---------------------------------------------------------------- Sentinel-2
def test_s2_cogs_validate_with_band_names_and_overviews(built):
    for tif in sorted(built["s2_items"].glob("*.tif")):
        valid, errors, _ = cog_validate(tif, quiet=True)
        assert valid, (tif.name, errors)
        with rasterio.open(tif) as ds:
            assert ds.crs.to_epsg() == 32631 and ds.res == (10.0, 10.0)
            assert ds.bounds == pytest.approx((landscape.AOI_X0, landscape.AOI_Y0, landscape.AOI_X1, landscape.AOI_Y1))
            assert ds.overviews(1) and ds.nodata == 0
            if tif.name.endswith("_reflectance.tif"):
                assert ds.descriptions == sentinel2.BANDS and ds.dtypes[0] == "uint16"
                assert ds.tags()["OVERVIEW_RESAMPLING"] == "AVERAGE"
            else:
                assert ds.count == 1 and ds.dtypes[0] == "uint8"
                assert ds.tags()["OVERVIEW_RESAMPLING"] == "NEAREST"


def test_scl_overviews_keep_valid_class_codes(built):
    for day in TEST_DATES:
        path = scene_path(built, day, "SCL")
        full = read(path)
        assert set(np.unique(full)) <= SCL_CODES
        with rasterio.open(path) as ds:
            levels = len(ds.overviews(1))
        for level in range(levels):
            ovr = read(path, overview_level=level)
            assert set(np.unique(ovr)) <= SCL_CODES, (day, level)
    assert {3, 4, 5, 6, 8, 9} <= set(np.unique(read(scene_path(built, "2022-08-30", "SCL"))))


def test_clouds_are_bright_and_flagged(built):
    refl = read(scene_path(built, "2022-08-30", "reflectance"))
    scl = read(scene_path(built, "2022-08-30", "SCL"))[0]
    cloud, clear = scl == 9, np.isin(scl, (4, 5))
    assert cloud.mean() > 0.01
    for b in range(4):  # visible + NIR
        assert np.median(refl[b][cloud]) > 5000 > np.median(refl[b][clear])
    shadow = scl == 3
    assert np.median(refl[3][shadow]) < np.median(refl[3][clear])


def test_ndvi_phenology_and_fire(built):
    lc = read(built["s2_items"] / "landcover.tif")[0]
    july = read(scene_path(built, "2022-07-06", "reflectance"))
    after = read(scene_path(built, "2022-08-30", "reflectance"))
    may = read(scene_path(built, "2023-05-17", "reflectance"))
    clear = {k: np.isin(read(scene_path(built, d, "SCL"))[0], (4, 5))
             for k, d in (("july", "2022-07-06"), ("after", "2022-08-30"), ("may", "2023-05-17"))}
    nd = {"july": ndvi(july), "after": ndvi(after), "may": ndvi(may)}

    forest = lc == sentinel2.FOREST
    assert np.median(nd["july"][forest & clear["july"]]) > 0.7

    parcels = load_geojson(built["parcels"])
    by_crop = {c: utm_mask([shape(f["geometry"]) for f in parcels if f["properties"]["crop_type"] == c])
               for c in ("maize", "winter_wheat")}
    maize, wheat = (by_crop[c] & (lc == sentinel2.CROPLAND) for c in ("maize", "winter_wheat"))
    # summer crop peaks in July, winter wheat in spring: the per-parcel time series carries phenology
    assert np.median(nd["july"][maize & clear["july"]]) > 0.6
    assert np.median(nd["july"][wheat & clear["july"]]) < 0.45
    assert np.median(nd["may"][wheat & clear["may"]]) > 0.65
    assert np.median(nd["may"][maize & clear["may"]]) < 0.35

    fire22 = [f for f in load_geojson(built["fire_perimeters"]) if f["properties"]["year"] == 2022]
    burned = utm_mask([shape(fire22[0]["geometry"])]) & forest
    before_ok, after_ok = burned & clear["july"], burned & clear["after"]
    assert after_ok.sum() > 10_000  # > 100 ha of clear burned forest
    assert np.median(nd["july"][before_ok]) > 0.65
    assert np.median(nd["after"][after_ok]) < 0.2

    def nbr(r):
        return (r[3].astype(np.float32) - r[5]) / np.maximum(r[3].astype(np.float32) + r[5], 1)

    dnbr = nbr(july) - nbr(after)
    assert np.median(dnbr[before_ok & after_ok]) > 0.6
    # outside the perimeter, forest does not change much
    assert abs(np.median(dnbr[forest & ~burned & clear["july"] & clear["after"]])) < 0.1


def test_partial_footprint_scene_has_nodata_strip(built):
    refl = read(scene_path(built, "2023-05-17", "reflectance"))
    scl = read(scene_path(built, "2023-05-17", "SCL"))[0]
    nodata = scl == 0
    assert 0.05 < nodata.mean() < 0.3
    assert (refl[:, nodata] == 0).all()
    assert (refl[:, ~nodata] > 0).all(), "0 is reserved for nodata"
    for day in ("2022-07-06", "2022-08-30"):
        assert (read(scene_path(built, day, "SCL")) > 0).all()


# ---------------------------------------------------------------- STAC
def test_stac_items_and_collection(built):
    folder = built["s2_items"]
    aoi_lonlat = box(4.2, 43.2, 4.6, 43.6)
    ids = []
    for day in TEST_DATES:
        item = json.loads((folder / f"S2_{day}.json").read_text())
        ids.append(item["id"])
        assert item["type"] == "Feature" and item["stac_version"] == "1.0.0"
        assert item["id"] == f"S2_{day}" and item["collection"] == "sentinel2-demo"
        geom = shape(item["geometry"])
        assert geom.is_valid and aoi_lonlat.contains(geom)
        assert item["bbox"] == pytest.approx(list(geom.bounds), abs=1e-6)
        props = item["properties"]
        assert datetime.fromisoformat(props["datetime"].replace("Z", "+00:00")).date().isoformat() == day
        assert props["proj:epsg"] == 32631 and props["proj:shape"] == [landscape.SIZE] * 2
        scl = read(folder / f"S2_{day}_SCL.tif")[0]
        cover = 100 * np.isin(scl, (8, 9)).sum() / (scl > 0).sum()
        assert props["eo:cloud_cover"] == pytest.approx(cover, abs=0.01)
        refl = item["assets"]["reflectance"]
        assert "data" in refl["roles"] and [b["name"] for b in refl["eo:bands"]] == list(sentinel2.BANDS)
        for asset in item["assets"].values():
            assert asset["href"].startswith("./") and (folder / asset["href"]).exists()
        assert {"collection", "root", "parent"} <= {link["rel"] for link in item["links"]}
        try:
            import pystac
        except ImportError:
            continue
        assert pystac.Item.from_dict(item).datetime.date().isoformat() == day
    # the partial footprint is smaller than the AOI
    cut = shape(json.loads((folder / "S2_2023-05-17.json").read_text())["geometry"])
    full = shape(json.loads((folder / "S2_2022-07-06.json").read_text())["geometry"])
    assert 0.7 < cut.area / full.area < 0.95

    coll = json.loads((folder / "collection.json").read_text())
    assert coll["type"] == "Collection" and coll["stac_version"] == "1.0.0"
    assert coll["extent"]["spatial"]["bbox"][0] == pytest.approx(list(full.bounds), abs=1e-6)
    assert coll["extent"]["temporal"]["interval"][0][0].startswith(TEST_DATES[0])
    links = [link["href"] for link in coll["links"] if link["rel"] == "item"]
    assert sorted(links) == sorted(f"./{i}.json" for i in ids)


# ---------------------------------------------------------------- vectors
def test_geojson_layers(built):
    aoi = box(landscape.AOI_X0, landscape.AOI_Y0, landscape.AOI_X1, landscape.AOI_Y1)
    layers = {name: load_geojson(built[name]) for name in ("parcels", "protected_sites", "fire_perimeters")}
    for name, feats in layers.items():
        ids = [f["id"] for f in feats]
        assert all(isinstance(i, str) for i in ids) and len(set(ids)) == len(ids), name
        for f in feats:
            assert f["properties"]["id"] == f["id"]
            g = shape(f["geometry"])
            assert g.is_valid and not g.is_empty and g.area > 0
            assert f["properties"]["area_ha"] > 0
            lon, lat = g.centroid.x, g.centroid.y
            assert -180 <= lon <= 180 and -90 <= lat <= 90  # lon/lat order (CRS84)

    parcels = layers["parcels"]
    assert 150 <= len(parcels) <= 300
    for f in parcels:
        utm = shp_transform(TO_UTM.transform, shape(f["geometry"]))
        assert aoi.contains(utm)
        assert f["properties"]["crop_type"] in landscape.CROP_TYPES
        assert f["properties"]["area_ha"] == pytest.approx(utm.area / 1e4, rel=0.01)
    assert {f["properties"]["crop_type"] for f in parcels} == set(landscape.CROP_TYPES)

    fires = layers["fire_perimeters"]
    assert sorted(f["properties"]["year"] for f in fires) == [2022, 2023]
    for f in fires:
        p = f["properties"]
        assert date.fromisoformat(p["date"]).year == p["year"]
        assert p["datetime"].startswith(p["date"])
        assert aoi.contains(shp_transform(TO_UTM.transform, shape(f["geometry"])))

    sites = layers["protected_sites"]
    assert 10 <= len(sites) <= 20
    for f in sites:
        date.fromisoformat(f["properties"]["established"])
        assert f["properties"]["name"] and f["properties"]["designation"]
    fire_union = [shape(f["geometry"]) for f in fires]
    aoi_lonlat = shp_transform(Transformer.from_crs(landscape.AOI_CRS, "OGC:CRS84", always_xy=True).transform, aoi)
    inside = [shape(f["geometry"]) for f in sites if aoi_lonlat.intersects(shape(f["geometry"]))]
    burned_sites = [g for g in inside if any(g.intersection(fz).area > 0 for fz in fire_union)]
    assert len(burned_sites) >= 2 and len(inside) > len(burned_sites)
    assert len(sites) - len(inside) >= 3  # a few elsewhere in the world


# ---------------------------------------------------------------- idempotency / determinism
def test_second_build_is_idempotent(built):
    files = all_files(built["dem"].parent)
    before = {p: p.stat().st_mtime_ns for p in files}
    again = demo_data.build_demo_data(built["dem"].parent, dem_width=DEM_WIDTH)
    assert again == built
    assert {p: p.stat().st_mtime_ns for p in all_files(built["dem"].parent)} == before


def test_force_rebuild_is_deterministic(built):
    data_dir = built["dem"].parent
    rasters = sorted(data_dir.rglob("*.tif"))
    texts = sorted(data_dir.rglob("*.json")) + sorted(data_dir.glob("*.geojson"))
    before = {p: read(p) for p in rasters}
    before_txt = {p: p.read_text() for p in texts}
    mtimes = {p: p.stat().st_mtime_ns for p in rasters}
    demo_data.build_demo_data(data_dir, dem_width=DEM_WIDTH, force=True)
    assert all(p.stat().st_mtime_ns != mtimes[p] for p in rasters), "force rewrites"
    for p, arr in before.items():
        assert np.array_equal(read(p), arr), p.name
    for p, txt in before_txt.items():
        assert p.read_text() == txt, p.name


def test_cli_reports_paths(built, capsys):
    assert cli_main(["--data-dir", str(built["dem"].parent), "--dem-width", str(DEM_WIDTH)]) == 0
    out = capsys.readouterr().out
    for name, path in built.items():
        assert name in out and str(path) in out


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.json"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with atomic_output(target) as tmp:
        tmp.write_text("{}")
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
