"""The demo-data build: files and their layout, STAC documents, idempotency, determinism, CLI, logs."""
from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from PIL import Image
from rio_cogeo.cogeo import cog_validate
from shapely.geometry import box, shape

import demodata
from demodata import landscape, sentinel2, sizes, spectra, stac, truth
from demodata.__main__ import main as cli_main
from demodata.scenes import calendar, growing
from demodata.writers import atomic_output

from .conftest import item_doc, read, scl

KEYS = {"dem", "dem_detail", "s2_items", "landcover", "parcels", "protected_sites", "fire_perimeters"}
SCENES = calendar()
DAYS = [s.date.isoformat() for s in SCENES]


def all_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.rglob("*") if p.is_file() and p.name != ".build.lock")


def test_returned_paths(demo, settings):
    assert set(demo) == KEYS
    assert demo == demodata.expected_paths(settings.data_dir, "default", settings.dem_width)
    assert all(p.exists() for p in demo.values())
    names = {p.name for p in demo["s2_items"].iterdir()}
    assert "collection.json" in names and len([n for n in names if n.endswith(".json")]) == len(SCENES) + 1
    for s in SCENES:
        assert set(stac.scene_files(s).values()) | {f"{s.id}.json"} <= names
    leftovers = [p for pattern in ("**/.*.tmp.*", "**/.*.scratch.*") for p in settings.data_dir.glob(pattern)]
    assert not leftovers, "no temp files left"
    assert demodata.expected_paths(settings.data_dir, "large")["s2_items"] != demo["s2_items"]
    with pytest.raises(ValueError, match="unknown demo size"):
        demodata.expected_paths(settings.data_dir, "huge")


def test_calendar_three_years_dense_in_the_growing_season():
    days = [s.date for s in SCENES]
    assert days == sorted(days) and days[0] < date(2021, 2, 1) and days[-1] > date(2023, 12, 1)
    gaps = np.diff([d.toordinal() for d in days])
    in_season = np.array([growing(a) and growing(b) for a, b in zip(days, days[1:])])
    assert gaps[in_season].max() <= 10 and 5 <= gaps[in_season].mean() <= 10
    assert gaps[~in_season].mean() > 2 * gaps[in_season].mean()  # sparser in winter
    for year in (2021, 2022, 2023):
        assert sum(growing(d) for d in days if d.year == year) >= 25
    assert sum(s.swath_cut > 0 for s in SCENES) >= 5 and sum(s.cirrus > 0 for s in SCENES) >= 5
    for fire in landscape.fires():  # each fire is bracketed by clear scenes within two weeks
        assert any(timedelta(0) < fire.date - s.date <= timedelta(14) and s.cloud < 0.05 for s in SCENES)
        assert any(timedelta(0) < s.date - fire.date <= timedelta(14) and s.cloud < 0.05 for s in SCENES)


def test_large_size_is_bigger_and_contains_the_default():
    small, large = sizes.window("default"), sizes.window("large")
    assert large.polygon().contains(small.polygon()) and large.pixels * 10 >= 40_000
    assert len(landscape.parcels(large)) >= 5_000 and len(SCENES) >= 36
    inner = {p.key for p in landscape.parcels(small)}
    assert inner <= {p.key for p in landscape.parcels(large)}  # the same fields, not a new landscape


# ---------------------------------------------------------------- STAC and COG layout
def test_items_are_l2a_like(demo):
    win = sizes.window("default")
    for day in (DAYS[0], DAYS[len(DAYS) // 2], DAYS[-1]):
        doc = item_doc(demo, day)
        item = pystac.Item.from_dict(doc)
        assert item.datetime.date().isoformat() == day and item.collection_id == stac.COLLECTION_ID
        assert set(doc["assets"]) == set(spectra.BANDS) | {"SCL", "thumbnail"}
        props = doc["properties"]
        assert props["constellation"] == "sentinel-2" and props["proj:epsg"] == 32631
        assert props["proj:shape"] == [win.pixels] * 2 and props["proj:bbox"] == list(win.bounds)  # the 10 m grid
        for name in spectra.BANDS:
            asset = doc["assets"][name]
            (eo,) = asset["eo:bands"]
            (rb,) = asset["raster:bands"]
            assert eo["name"] == name and eo["common_name"] == spectra.BAND_INFO[name][0]
            assert 0.4 < eo["center_wavelength"] < 2.3 and eo["full_width_half_max"] > 0
            assert (rb["scale"], rb["offset"], rb["nodata"], rb["data_type"]) == (0.0001, -0.1, 0, "uint16")
            assert asset["roles"][0] == "data" and asset["type"].startswith("image/tiff")
            res = rb["spatial_resolution"]
            assert res == (10.0 if name in ("B02", "B03", "B04", "B08") else 20.0)
            with rasterio.open(demo["s2_items"] / asset["href"]) as ds:  # proj:* describe the file
                assert list(ds.transform)[:6] == asset["proj:transform"] and [ds.height, ds.width] == asset["proj:shape"]
                assert ds.res == (res, res) and ds.crs.to_epsg() == asset["proj:epsg"] == 32631
                assert ds.dtypes[0] == "uint16" and ds.nodata == 0 and ds.descriptions == (name,)
                assert ds.bounds == pytest.approx(win.bounds)
            assert pystac.extensions.eo.EOExtension.ext(item.assets[name]).bands[0].name == name
            assert pystac.extensions.raster.RasterExtension.ext(item.assets[name]).bands[0].scale == 0.0001
        scl_asset = doc["assets"]["SCL"]
        assert "classification" in scl_asset["roles"] and "data" in scl_asset["roles"]
        assert scl_asset["proj:shape"] == [win.pixels // 2] * 2
        assert {c["value"] for c in scl_asset["classification:classes"]} == set(sentinel2.SCL_CLASSES)
        thumb = Image.open(demo["s2_items"] / doc["assets"]["thumbnail"]["href"])
        assert thumb.format == "PNG" and thumb.mode == "RGB" and 200 <= max(thumb.size) <= 300
        assert {link["rel"] for link in doc["links"]} >= {"collection", "root", "parent"}
        for ext in doc["stac_extensions"]:
            assert ext.startswith("https://stac-extensions.github.io/")


def test_cogs_validate_with_the_right_overview_resampling(demo):
    files = stac.scene_files(SCENES[10])
    for key, name in files.items():
        if key == "thumbnail":
            continue
        path = demo["s2_items"] / name
        valid, errors, _ = cog_validate(path, quiet=True)
        assert valid, (name, errors)
        with rasterio.open(path) as ds:
            assert ds.overviews(1)
            assert ds.tags()["OVERVIEW_RESAMPLING"] == ("NEAREST" if key == "SCL" else "AVERAGE")
    with rasterio.open(demo["s2_items"] / files["SCL"]) as ds:
        levels = len(ds.overviews(1))
    for level in range(levels):  # nearest overviews never invent SCL classes
        assert set(np.unique(read(demo["s2_items"] / files["SCL"], overview_level=level))) <= set(sentinel2.SCL_CLASSES)


def test_collection_document(demo):
    coll = json.loads((demo["s2_items"] / "collection.json").read_text())
    pystac.Collection.from_dict(coll)
    assert coll["type"] == "Collection" and coll["stac_version"] == "1.0.0" and coll["id"] == stac.COLLECTION_ID
    assert set(coll["item_assets"]) == set(spectra.BANDS) | {"SCL", "thumbnail"}
    assert coll["item_assets"]["B11"]["raster:bands"][0]["spatial_resolution"] == 20.0
    assert coll["extent"]["temporal"]["interval"][0] == [SCENES[0].datetime, SCENES[-1].datetime]
    items = sorted(link["href"] for link in coll["links"] if link["rel"] == "item")
    assert items == sorted(f"./{s.id}.json" for s in SCENES)
    assert any("stac-extensions.github.io/item-assets" in e for e in coll["stac_extensions"])


def test_cloud_cover_is_the_cloudy_share_of_valid_scl_pixels(demo):
    covers = []
    for day in DAYS:
        s = scl(demo, day, at_10m=False)
        expected = 100.0 * np.isin(s, (8, 9, 10)).sum() / (s > 0).sum()
        cover = item_doc(demo, day)["properties"]["eo:cloud_cover"]
        assert cover == pytest.approx(expected, abs=0.01), day
        covers.append(cover)
    covers = np.array(covers)
    assert (covers == 0).mean() > 0.2 and (covers > 40).sum() >= 5  # clear, partly and very cloudy dates


def test_swath_cut_scenes_have_nodata_strips_and_smaller_footprints(demo):
    cut = next(s for s in SCENES if s.swath_cut > 0.15 and s.cloud == 0)
    full = next(s for s in SCENES if s.swath_cut == 0)
    day = cut.date.isoformat()
    s20 = scl(demo, day, at_10m=False)
    b12 = read(demo["s2_items"] / stac.scene_files(cut)["B12"])[0]
    assert np.array_equal(s20 == 0, b12 == 0)  # same 20 m grid, same no-data
    b04 = read(demo["s2_items"] / stac.scene_files(cut)["B04"])[0]
    assert 0.1 < (b04 == 0).mean() < 0.4 and (b04[b04 > 0] >= 1).all()
    geom, whole = shape(item_doc(demo, day)["geometry"]), shape(item_doc(demo, full.date.isoformat())["geometry"])
    assert geom.area / whole.area == pytest.approx(1 - (s20 == 0).mean(), abs=0.01)


# ---------------------------------------------------------------- vectors and truth
def load(path: Path) -> list[dict]:
    doc = json.loads(path.read_text())
    assert doc["type"] == "FeatureCollection"
    return doc["features"]


def test_geojson_layers(demo):
    aoi = box(*landscape.to_wgs84(sizes.window("default").polygon()).bounds)
    parcels = load(demo["parcels"])
    assert len(parcels) >= 200 and {f["properties"]["crop_type"] for f in parcels} == set(landscape.CROP_TYPES)
    assert all(aoi.contains(shape(f["geometry"])) for f in parcels)
    assert [f["id"] for f in parcels] == list(truth.parcel_crops())
    fires = load(demo["fire_perimeters"])
    assert sorted(f["properties"]["year"] for f in fires) == [2022, 2023]
    sites = load(demo["protected_sites"])
    inside = [f for f in sites if aoi.intersects(shape(f["geometry"]))]
    assert len(inside) == 6 and len(sites) - len(inside) >= 5
    for layer in (parcels, fires, sites):
        ids = [f["id"] for f in layer]
        assert len(set(ids)) == len(ids) and all(f["properties"]["area_ha"] > 0 for f in layer)
        assert all(shape(f["geometry"]).is_valid for f in layer)


def test_truth_sites_fires_and_harvests():
    burned = truth.site_burned_ha()
    assert {"PS01", "PS02", "PS03"} <= {s for s, v in burned.items() if v["total"] > 20}
    assert set(truth.unburned_sites()) >= {"PS04", "PS05", "PS06"}
    # the unburned PS06 holds cropland with harvests (a trap for burned-area methods)
    pidx, site = truth.parcel_index(), truth.site_masks()["PS06"]
    crops = truth.parcel_crops()
    ids = list(crops)
    inside = {ids[i - 1] for i in np.unique(pidx[site]) if i > 0}
    assert sum(bool(truth.harvest_dates()[p][2022]) for p in inside) >= 5
    for fid, ha in truth.burned_area_ha().items():
        px = truth.burned_masks()[fid].sum() * 100 / 1e4
        assert ha == pytest.approx(px, rel=2e-3) and ha != px  # ellipsoidal area, close to the map area


def test_landcover_cog_is_the_truth(demo):
    with rasterio.open(demo["landcover"]) as ds:
        assert ds.tags()["CLASS_1"] == "forest" and ds.crs.to_epsg() == 32631
        lc = ds.read(1)
    assert np.array_equal(lc, truth.landcover())
    shares = np.bincount(lc.ravel(), minlength=7) / lc.size
    assert shares[sentinel2.FOREST] > 0.15 and shares[sentinel2.CROPLAND] > 0.15


# ---------------------------------------------------------------- idempotency, determinism, CLI, logs
def test_second_build_is_idempotent_and_logs(demo, settings, caplog):
    before = {p: p.stat().st_mtime_ns for p in all_files(settings.data_dir)}
    with caplog.at_level(logging.INFO, logger="geodeferred"):
        again = demodata.build_demo_data(settings.data_dir, dem_width=settings.dem_width)
    assert again == demo
    assert {p: p.stat().st_mtime_ns for p in all_files(settings.data_dir)} == before
    assert any(r.name.startswith("geodeferred.") and "ready" in r.getMessage() for r in caplog.records)


def test_rebuilding_a_scene_gives_the_same_files(demo, tmp_path):
    s = SCENES[len(SCENES) // 3]
    demodata._build_scene(tmp_path, sizes.window("default"), s)
    for key, name in stac.scene_files(s).items():
        if key == "thumbnail":
            assert (tmp_path / name).read_bytes() == (demo["s2_items"] / name).read_bytes()
        else:
            assert np.array_equal(read(tmp_path / name), read(demo["s2_items"] / name)), name
    assert (tmp_path / f"{s.id}.json").read_text() == (demo["s2_items"] / f"{s.id}.json").read_text()


def test_cli_reports_paths(demo, settings, capsys):
    assert cli_main(["--data-dir", str(settings.data_dir), "--dem-width", str(settings.dem_width)]) == 0
    out = capsys.readouterr().out
    for name, path in demo.items():
        assert name in out and str(path) in out and "up to date" in out


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
