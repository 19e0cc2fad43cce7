"""Map tiles over HTTP: real pixel values, seams, caching headers, bad input."""
from __future__ import annotations

import io

import morecantile
import numpy as np
import pytest
from PIL import Image

from processes.engine.evaluate import evaluate
from processes.engine.graph import parse_process
from processes.engine.grid import Grid

TILE = "/collections/dem/map/tiles/WebMercatorQuad"


def png(r) -> np.ndarray:
    assert r.status_code == 200, r.text
    return np.asarray(Image.open(io.BytesIO(r.content)))


def test_tilesets_and_tileset(client):
    sets = client.get("/collections/dem/map/tiles").json()["tilesets"]
    assert {s["tileMatrixSetURI"].rsplit("/", 1)[-1] for s in sets} >= {"WebMercatorQuad", "WorldCRS84Quad"}
    ts = client.get(TILE).json()
    assert ts["dataType"] == "map"
    item = [l for l in ts["links"] if l["rel"] == "item"][0]
    assert "{tileMatrix}/{tileRow}/{tileCol}" in item["href"]
    assert ts["tileMatrixSetLimits"][0] == {"tileMatrix": "0", "minTileRow": 0, "maxTileRow": 0, "minTileCol": 0, "maxTileCol": 0}


def test_tile_matrix_sets_have_both_spellings(client):
    doc = client.get("/tileMatrixSets/WebMercatorQuad").json()
    assert doc["id"] == doc["identifier"] == "WebMercatorQuad"
    m = doc["tileMatrices"][3]
    assert m["topLeftCorner"] == m["pointOfOrigin"] and m["identifier"] == m["id"] == "3"
    assert client.get("/tileMatrixSets/Nope").status_code == 404


def test_hillshade_tile_pixels_are_the_engine_output(client):
    """The PNG's grey values are exactly the hillshade the engine computes for that tile."""
    z, y, x = 3, 2, 4
    img = png(client.get(f"{TILE}/{z}/{y}/{x}?algorithm=hillshade&z_factor=30&azimuth=270"))
    assert img.shape[:2] == (256, 256)
    services = client.app.state.services
    node = parse_process("hillshade", {"data": {"collection": "dem"}, "z_factor": 30, "azimuth": 270}, services.resolve)
    b = morecantile.tms.get("WebMercatorQuad").xy_bounds(x, y, z)
    (r,) = evaluate([node], Grid.from_bounds("EPSG:3857", (b.left, b.bottom, b.right, b.top), 256, 256), services.lookup)
    expected = np.clip(r.data[0], 0, 255).astype(np.uint8)
    assert np.abs(img[..., 0].astype(int) - expected).max() <= 1
    assert img[..., 0].std() > 5  # real relief, not a flat tile


def test_azimuth_changes_the_shading(client):
    a = png(client.get(f"{TILE}/3/2/4?algorithm=hillshade&z_factor=30&azimuth=90"))
    b = png(client.get(f"{TILE}/3/2/4?algorithm=hillshade&z_factor=30&azimuth=270"))
    assert np.corrcoef(a[..., 0].ravel(), b[..., 0].ravel())[0, 1] < 0  # opposite light, opposite shade


def test_neighbour_tiles_are_seamless(client):
    """Two adjacent tiles fetched over HTTP, stitched, equal one evaluation of the pair's extent."""
    z, y, x = 5, 11, 16
    q = "?algorithm=hillshade&z_factor=50"
    pair = np.hstack([png(client.get(f"{TILE}/{z}/{y}/{x + i}{q}"))[..., 0] for i in (0, 1)]).astype(int)
    services = client.app.state.services
    node = parse_process("hillshade", {"data": {"collection": "dem"}, "z_factor": 50}, services.resolve)
    tms = morecantile.tms.get("WebMercatorQuad")
    a, b = tms.xy_bounds(x, y, z), tms.xy_bounds(x + 1, y, z)
    (whole,) = evaluate([node], Grid.from_bounds("EPSG:3857", (a.left, a.bottom, b.right, a.top), 512, 256), services.lookup)
    assert np.abs(pair - np.clip(whole.data[0], 0, 255).astype(np.uint8)).max() <= 1


def test_elevation_colormap_and_blend(client):
    plain = png(client.get(f"{TILE}/2/1/2"))
    blended = png(client.get(f"{TILE}/2/1/2?algorithm=hillshade&z_factor=30&blend=0.8"))
    assert plain.shape == blended.shape == (256, 256, 3)
    assert not np.array_equal(plain, blended)
    gray = png(client.get(f"{TILE}/2/1/2?colormap=gist_gray&rescale=-6000,6000"))
    assert np.array_equal(gray[..., 0], gray[..., 1])


def test_webp_jpeg_and_accept(client):
    r = client.get(f"{TILE}/1/0/1?f=webp")
    assert r.headers["content-type"] == "image/webp" and Image.open(io.BytesIO(r.content)).size == (256, 256)
    r = client.get(f"{TILE}/1/0/1", headers={"Accept": "image/jpeg"})
    assert r.headers["content-type"] == "image/jpeg"


def test_etag_and_304(client):
    r = client.get(f"{TILE}/2/1/1?algorithm=slope")
    etag = r.headers["etag"]
    assert "max-age" in r.headers["cache-control"]
    assert client.get(f"{TILE}/2/1/1?algorithm=slope", headers={"If-None-Match": etag}).status_code == 304
    assert client.get(f"{TILE}/2/1/1?algorithm=aspect").headers["etag"] != etag


def test_world_crs84_tiles(client):
    img = png(client.get("/collections/dem/map/tiles/WorldCRS84Quad/1/0/1"))
    assert img.shape[:2] == (256, 256)


def test_tilejson(client):
    tj = client.get(f"{TILE}/tilejson.json?algorithm=hillshade").json()
    assert tj["tilejson"] == "3.0.0" and "{z}/{y}/{x}" in tj["tiles"][0] and "algorithm=hillshade" in tj["tiles"][0]


@pytest.mark.parametrize("path, status", [
    (f"{TILE}/2/9/1", 404),  # outside the matrix
    (f"{TILE}/25/0/0", 404),  # no such zoom
    ("/collections/nope/map/tiles/WebMercatorQuad/1/0/0", 404),
    ("/collections/dem/map/tiles/NoSuchTMS/1/0/0", 404),
    (f"{TILE}/1/0/0?algorithm=nope", 400),
    (f"{TILE}/1/0/0?azimut=3", 400),
    (f"{TILE}/1/0/0?algorithm=hillshade&azimuth=400", 400),
    (f"{TILE}/1/0/0?algorithm=hillshade&azimuth=abc", 400),
    (f"{TILE}/1/0/0?rescale=1", 400),
    (f"{TILE}/1/0/0?rescale=a,b", 400),
    (f"{TILE}/1/0/0?rescale=-1e308,1e308", 400),
    (f"{TILE}/1/0/0?rescale=5,5", 400),
    (f"{TILE}/1/0/0?colormap=nope", 400),
    (f"{TILE}/1/0/0?blend=0.5", 400),
    (f"{TILE}/1/0/0?algorithm=hillshade&blend=2", 400),
    (f"{TILE}/1/0/0?f=gif", 406),
    (f"{TILE}/1/0/0?bands=B04", 400),
    (f"{TILE}/-1/0/0", 404),
    (f"{TILE}/a/0/0", 404),
])
def test_bad_tile_requests(client, path, status):
    r = client.get(path)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == status


def test_sentinel2_ndvi_tile(client):
    ts = client.get("/collections/sentinel2/map/tiles/WebMercatorQuad").json()
    lim = [l for l in ts["tileMatrixSetLimits"] if l["tileMatrix"] == "13"][0]
    r = client.get(f"/collections/sentinel2/map/tiles/WebMercatorQuad/13/{lim['minTileRow']}/{lim['minTileCol'] + 1}"
                   "?algorithm=normalized_difference&a=B08&b=B04&colormap=rdylgn&rescale=-1,1&datetime=2022-06-01/2022-09-30")
    img = png(r)
    assert img.shape[-1] in (3, 4) and img[..., :3].std() > 1
