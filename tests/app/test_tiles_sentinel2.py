"""Sentinel-2 map tiles: band order, per-pixel mosaics of a date range against numpy composites of
the same scenes, one item, STAC selections as workflow inputs, and bad selections as 400s."""
from __future__ import annotations

import io
import warnings

import morecantile
import numpy as np
import pytest
from PIL import Image

from processes.engine.grid import Grid

TMS = morecantile.tms.get("WebMercatorQuad")
TILES = "/collections/sentinel2/map/tiles/WebMercatorQuad"


def png(r) -> np.ndarray:
    assert r.status_code == 200, r.text
    return np.asarray(Image.open(io.BytesIO(r.content)))


@pytest.fixture(scope="module")
def s2(client):
    return client.app.state.services.catalog.rasters["sentinel2"].collection


@pytest.fixture(scope="module")
def tile(s2):
    """A zoom-13 tile inside the scenes."""
    w, s, e, n = s2.bbox
    t = TMS.tile((w + e) / 2, (s + n) / 2, 13)
    b = TMS.xy_bounds(t)
    return t, Grid.from_bounds("EPSG:3857", (b.left, b.bottom, b.right, b.top), 256, 256)


def byte(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((v - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def test_default_true_colour_is_red_green_blue(client, s2, tile):
    t, grid = tile
    day = next(i.datetime[:10] for i in s2.items if i.datetime.startswith("2023-07"))  # one scene
    img = png(client.get(f"{TILES}/{t.z}/{t.y}/{t.x}?datetime={day}"))
    (item,) = s2.select(day)
    r = item.read(grid, ("B04", "B03", "B02"))
    ok = r.mask & (img[..., 3] > 0 if img.shape[-1] == 4 else True)
    for k in range(3):
        np.testing.assert_allclose(img[..., k][ok], byte(r.data[k], 0, 0.3)[ok], atol=1)
    assert img[..., 0][ok].mean() != pytest.approx(img[..., 2][ok].mean(), abs=0.5)


@pytest.mark.parametrize("method", ["median", "mean", "last"])
def test_mosaic_tile_equals_a_numpy_composite(client, s2, tile, method):
    t, grid = tile
    dt = "2022-03/2023-10"
    img = png(client.get(f"{TILES}/{t.z}/{t.y}/{t.x}?datetime={dt}&mosaic={method}&bands=B08&rescale=0,0.6"))
    scenes = [i.read(grid, ("B08", "SCL")) for i in s2.covering(grid, dt)]
    assert len(scenes) >= 3
    stack = np.stack([np.where(r.mask & ~np.isin(r.band("SCL"), (0, 1, 3, 8, 9, 10)), r.band("B08"), np.nan)
                      for r in scenes])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels: invalid
        if method == "last":
            idx = len(scenes) - 1 - np.isfinite(stack)[::-1].argmax(0)
            want = np.take_along_axis(stack, idx[None], 0)[0]
        else:
            want = {"median": np.nanmedian, "mean": np.nanmean}[method](stack, axis=0)
    valid = np.isfinite(want)
    alpha = img[..., 3] > 0 if img.shape[-1] == 4 else np.ones(valid.shape, bool)
    np.testing.assert_array_equal(alpha, valid)
    np.testing.assert_allclose(img[..., 0][valid], byte(want, 0, 0.6)[valid], atol=1)


def test_mosaic_true_colour_keeps_the_collection_display_range(client, s2, tile):
    """A median true-colour tile with no rescale is shown with the collection's range (0..0.3),
    not 0..255 (a black tile)."""
    t, _ = tile
    q = f"{TILES}/{t.z}/{t.y}/{t.x}?datetime=2022-03/2023-10&mosaic=median&bands=B04,B03,B02"
    default, explicit = png(client.get(q)), png(client.get(q + "&rescale=0,0.3"))
    np.testing.assert_array_equal(default, explicit)
    assert default[..., :3].max() > 50


def test_default_mosaic_masks_clouds(client, s2, tile):
    """Without a mosaic method a date range is the newest clear pixel: no cloud class survives."""
    t, grid = tile
    img = png(client.get(f"{TILES}/{t.z}/{t.y}/{t.x}?datetime=2022&bands=B08&rescale=0,0.6"))
    scenes = s2.covering(grid, "2022")
    want = np.full((256, 256), np.nan, np.float32)
    for item in reversed(scenes):
        r = item.read(grid, ("B08", "SCL"))
        use = np.isnan(want) & r.mask & ~np.isin(r.band("SCL"), (0, 1, 3, 8, 9, 10))
        want[use] = r.band("B08")[use]
    valid = np.isfinite(want)
    np.testing.assert_allclose(img[..., 0][valid], byte(want, 0, 0.6)[valid], atol=1)


def test_one_item_and_a_filter(client, s2, tile):
    t, _ = tile
    first = s2.items[0].id
    a = png(client.get(f"{TILES}/{t.z}/{t.y}/{t.x}?item={first}"))
    b = png(client.get(f"{TILES}/{t.z}/{t.y}/{t.x}?filter=id='{first}'"))
    np.testing.assert_array_equal(a, b)
    clear = [i for i in s2.items if i.properties["eo:cloud_cover"] < 10]
    r = client.get(f"{TILES}/{t.z}/{t.y}/{t.x}?filter=eo:cloud_cover < 10&mosaic=median")
    assert r.status_code == 200 and len(clear) >= 1


@pytest.mark.parametrize("query, word", [
    ("datetime=2023-13-45", "datetime"),
    ("datetime=2023-09/2023-05", "datetime"),
    ("datetime=1999", "no item"),
    ("bands=B99", "B99"),
    ("filter=eo:cloud_cover <", "filter"),
    ("filter=cloudiness < 3", "cloudiness"),
    ("mosaic=mode", "mosaic"),
    ("item=S2_nope", "no item"),
])
def test_bad_selections_are_400s(client, tile, query, word):
    t, _ = tile
    r = client.get(f"{TILES}/{t.z}/{t.y}/{t.x}?{query}")
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert word in r.json()["detail"]


def test_mosaic_of_a_single_raster_is_a_400(client):
    r = client.get("/collections/dem/map/tiles/WebMercatorQuad/1/0/0?mosaic=median")
    assert r.status_code == 400 and "time series" in r.json()["detail"]


def test_stac_selection_as_workflow_input(client, s2, tile):
    """A STAC selection (collection + datetime + CQL2 filter) is the input of a deferred workflow."""
    t, grid = tile
    body = {"inputs": {"data": {"process": "composite", "inputs": {
        "data": {"collection": "sentinel2", "datetime": "2022-05/2023-09", "filter": "eo:cloud_cover < 30"},
        "bands": ["B08", "B04"]}}, "a": "B08", "b": "B04"}}
    r = client.post("/processes/normalized_difference/execution?response=collection", json=body, follow_redirects=False)
    assert r.status_code == 303, r.text
    url = r.headers["location"].split("/collections/", 1)[1]
    img = png(client.get(f"/collections/{url}/map/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}"))
    assert img.shape[:2] == (256, 256)
    bad = dict(body)
    bad["inputs"] = {**body["inputs"], "data": {"process": "composite", "inputs": {
        "data": {"collection": "sentinel2", "filter": "eo:cloud_cover < 30 AND nope = 1"}}}}
    r = client.post("/processes/normalized_difference/execution?response=collection", json=bad, follow_redirects=False)
    assert r.status_code == 400 and "nope" in r.json()["detail"]


def test_ndvi_of_a_median_mosaic(client, s2, tile):
    """An algorithm over a mosaic composites only the bands it reads, with the same pixels."""
    t, grid = tile
    dt = "2023-04/2023-09"
    img = png(client.get(f"{TILES}/{t.z}/{t.y}/{t.x}?datetime={dt}&mosaic=median"
                         "&algorithm=normalized_difference&a=B08&b=B04&rescale=-1,1"))
    scenes = [i.read(grid, ("B08", "B04", "SCL")) for i in s2.covering(grid, dt)]
    clear = [r.mask & ~np.isin(r.band("SCL"), (0, 1, 3, 8, 9, 10)) for r in scenes]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        nir = np.nanmedian(np.stack([np.where(c, r.band("B08"), np.nan) for r, c in zip(scenes, clear)]), 0)
        red = np.nanmedian(np.stack([np.where(c, r.band("B04"), np.nan) for r, c in zip(scenes, clear)]), 0)
    ndvi = (nir - red) / (nir + red)
    valid = np.isfinite(ndvi)
    np.testing.assert_allclose(img[..., 0][valid], byte(ndvi, -1, 1)[valid], atol=1)
    from app.maps import parse_map_request

    req = parse_map_request(client.app.state.services, "sentinel2",
                            {"datetime": dt, "mosaic": "median", "algorithm": "normalized_difference", "a": "B08", "b": "B04"},
                            "png")
    composite = req.algorithm.input("data")
    assert composite.params.bands == ("B08", "B04")
