"""GDAL as an independent client of our OGC API - Tiles (tilesets, tile matrix sets, map tiles).

Two GDALs:

* Debian 12's command-line tools (GDAL 3.6.2, package ``gdal-bin``; what QGIS on Debian 12 uses),
  run as subprocesses with the OGCAPI driver against the live server. Skipped only when
  ``gdalinfo``/``gdal_translate`` are not installed (``make system-deps`` installs them).
* rasterio's bundled GDAL (3.10.3 with rasterio 1.4.4). Its wheel is built *without* the OGCAPI
  driver, so it reads the same tiles through the WMS driver's TMS mini-driver configured from our
  tileset and tile matrix set documents (what the OGCAPI driver builds internally), and parses our
  tile matrix set documents with its own TileMatrixSet parser (COG driver, ``TILING_SCHEME=<file>``).

GDAL 3.6 client-side limitations met here (the tests use the workarounds):

* the coverage API, when a collection links one, wins over tiles with ``API=AUTO``: tile tests pass
  ``API=TILES``;
* query parameters of the collection URL are not passed on to tile requests: an algorithm is read
  through a Part 3 deferred collection (``?response=collection``) instead;
* WebMercatorQuad: it crops every level to the collection's CRS84 bbox read as metres, so the
  extent has to be given in the tile matrix set's CRS (``-oo MINX= ... MAXY=``);
* tileMatrixSetLimits that restrict rows (any collection not spanning all latitudes) give a wrong
  Y pixel size (each level's SizeY is the full matrix height while its window is cropped to the
  limited rows). There is no client workaround: ``GDAL_OGCAPI_TILEMATRIXSET_LIMITS=NO`` (and a
  tileset without limits) makes 3.6 compare an iterator of one map with the end of a copy of it and
  read garbage limits, so opening fails at random. Such collections are read with GDAL 3.6 through
  the coverage API (its API=AUTO choice); their tiles are checked with GDAL 3.10 below.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from xml.sax.saxutils import escape

import httpx
import morecantile
import numpy as np
import pytest
import rasterio
import rasterio.shutil
import rasterio.warp
from rasterio.windows import Window

from ._util import rgba

GDALINFO, GDAL_TRANSLATE = shutil.which("gdalinfo"), shutil.which("gdal_translate")
HALF = 20037508.342789244  # half the Web Mercator world, metres
TIMEOUT = 120


def gdal(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a GDAL command-line tool against the loopback server, bounded in time."""
    env = {**os.environ, "GDAL_HTTP_TIMEOUT": "60", "GDAL_HTTP_MAX_RETRY": "0", "NO_PROXY": "*", "no_proxy": "*"}
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=TIMEOUT, env=env)
    if check:
        assert proc.returncode == 0, f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc


def requested_tiles(stderr: str) -> dict[str, int]:
    """URL -> HTTP status of every tile GDAL fetched (from its --debug on output)."""
    return {url: int(status) for url, status in re.findall(r"Request \[\d+\] (\S+) : status = (\d+)", stderr)}


def bands(img: np.ndarray) -> np.ndarray:
    return np.moveaxis(img, -1, 0)


def tile_rgba(url: str, cid: str, tms: str, z: int, y: int, x: int) -> np.ndarray:
    r = httpx.get(f"{url}/collections/{cid}/map/tiles/{tms}/{z}/{y}/{x}", timeout=60)
    assert r.status_code == 200, r.text
    return rgba(r.content)


@pytest.fixture(scope="module")
def cli(say) -> tuple[int, int, int]:
    """The GDAL command-line tools' version, printed into the test output."""
    if GDALINFO is None or GDAL_TRANSLATE is None:
        pytest.skip("GDAL command-line tools not installed (Debian package gdal-bin; `make system-deps`)")
    out = subprocess.run([GDALINFO, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    m = re.match(r"GDAL (\d+)\.(\d+)\.(\d+)", out)
    assert m, f"unexpected `gdalinfo --version` output: {out!r}"
    say(f"GDAL command-line tools: {out} ({GDALINFO})")
    version = tuple(int(v) for v in m.groups())
    assert version >= (3, 6, 0), f"the OGCAPI driver reads OGC API - Tiles 1.0 tilesets from GDAL 3.6 on; got {out}"
    return version


@pytest.fixture(scope="module")
def rio_gdal(say) -> str:
    with rasterio.Env() as env:
        has_ogcapi = "OGCAPI" in env.drivers()
    say(f"rasterio {rasterio.__version__} bundles GDAL {rasterio.__gdal_version__} "
        f"(OGCAPI driver {'present' if has_ogcapi else 'absent: tiles read through its WMS/TMS driver'})")
    assert rasterio.__gdal_version__.startswith("3.")
    return rasterio.__gdal_version__


@pytest.fixture(scope="module")
def collections(live_server) -> dict[str, dict]:
    return {c["id"]: c for c in httpx.get(f"{live_server.url}/collections", timeout=30).json()["collections"]}


def center_tile(bbox, tms_id: str, z: int) -> morecantile.Tile:
    return morecantile.tms.get(tms_id).tile((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2, z)


# --------------------------------------------------------------------------------------------
# What GDAL's OGCAPI driver relies on in the documents (checked without GDAL)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cid", ["dem", "sentinel2"])
def test_tilesets_carry_what_the_ogcapi_driver_reads(live_server, collections, cid):
    """GDAL 3.6 picks tilesets by dataType and tileMatrixSetURI, follows rel=self (JSON), the
    tiling-scheme link (JSON) and the templated image/png item link; it needs tileMatrixSetLimits
    (without them it dereferences an invalid iterator) and fails when a listed level makes the
    extent smaller than a pixel. Tiles outside the listed levels are 404, as outside the limits."""
    url = live_server.url
    bbox = collections[cid]["extent"]["spatial"]["bbox"][0]
    sets = httpx.get(f"{url}/collections/{cid}/map/tiles", timeout=30).json()["tilesets"]
    assert {s["tileMatrixSetURI"].rsplit("/", 1)[-1] for s in sets} >= {"WorldCRS84Quad", "WebMercatorQuad"}
    for s in sets:
        assert s["dataType"] == "map"
        me = next(l for l in s["links"] if l["rel"] == "self" and l["type"] == "application/json")
        tms_id = s["tileMatrixSetURI"].rsplit("/", 1)[-1]
        ts = httpx.get(me["href"], timeout=30).json()
        rels = {(l["rel"], l.get("type")) for l in ts["links"]}
        assert ("http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "application/json") in rels
        item = next(l for l in ts["links"] if l["rel"] == "item" and l.get("type") == "image/png")
        assert item["href"].endswith("/{tileMatrix}/{tileRow}/{tileCol}") and item["templated"] is True
        limits = ts["tileMatrixSetLimits"]
        zooms = [int(l["tileMatrix"]) for l in limits]
        assert zooms == list(range(zooms[0], zooms[-1] + 1))
        tms = morecantile.tms.get(tms_id)
        left, bottom, right, top = rasterio.warp.transform_bounds(
            "EPSG:4326", tms.rasterio_crs, bbox[0], max(bbox[1], tms.bbox.bottom), bbox[2], min(bbox[3], tms.bbox.top))
        cell = tms.matrix(zooms[0]).cellSize
        assert right - left >= cell and top - bottom >= cell
        if zooms[0] > tms.minzoom:  # the level before would make it less than a pixel one way
            coarser = tms.matrix(zooms[0] - 1).cellSize
            assert right - left < coarser or top - bottom < coarser
            t = center_tile(bbox, tms_id, zooms[0] - 1)
            assert httpx.get(f"{url}/collections/{cid}/map/tiles/{tms_id}/{t.z}/{t.y}/{t.x}", timeout=30).status_code == 404
        t = center_tile(bbox, tms_id, zooms[0])
        assert httpx.get(f"{url}/collections/{cid}/map/tiles/{tms_id}/{t.z}/{t.y}/{t.x}", timeout=60).status_code == 200
        tj = httpx.get(f"{url}/collections/{cid}/map/tiles/{tms_id}/tilejson.json", timeout=30).json()
        assert (tj["minzoom"], tj["maxzoom"]) == (zooms[0], zooms[-1])


# --------------------------------------------------------------------------------------------
# GDAL 3.6 command-line tools, OGCAPI driver
# --------------------------------------------------------------------------------------------


def test_cli_landing_page_lists_collections(live_server, cli):
    info = json.loads(gdal(GDALINFO, "-json", f"OGCAPI:{live_server.url}/").stdout)
    names = [v for k, v in info["metadata"]["SUBDATASETS"].items() if k.endswith("_NAME")]
    ids = {re.search(r"/collections/([^/?]+)", n).group(1) for n in names}
    assert {"dem", "sentinel2", "parcels", "protected_sites", "fire_perimeters"} <= ids, names


def test_cli_dem_tileset_georeferencing(live_server, cli, collections):
    """Full-resolution size, origin, pixel size, CRS, RGBA bands and one overview per coarser level."""
    url = live_server.url
    limits = httpx.get(f"{url}/collections/dem/map/tiles/WorldCRS84Quad", timeout=30).json()["tileMatrixSetLimits"]
    zmax = int(limits[-1]["tileMatrix"])
    info = json.loads(gdal(GDALINFO, "-json", "-oo", "API=TILES", f"OGCAPI:{url}/collections/dem").stdout)
    assert info["driverShortName"] == "OGCAPI"
    assert info["metadata"][""]["TITLE"] == collections["dem"]["title"]
    res = 180.0 / 256 / 2 ** zmax  # WorldCRS84Quad is GDAL's preferred tile matrix set
    assert info["size"] == [2 * 256 * 2 ** zmax, 256 * 2 ** zmax]
    assert info["geoTransform"] == pytest.approx([-180.0, res, 0.0, 90.0, 0.0, -res], rel=1e-9, abs=1e-9)
    assert "CRS84" in info["coordinateSystem"]["wkt"]
    assert [b["colorInterpretation"] for b in info["bands"]] == ["Red", "Green", "Blue", "Alpha"]
    overviews = info["bands"][0]["overviews"]
    assert len(overviews) == zmax and overviews[-1]["size"] == [512, 256]


def test_cli_world_image_equals_the_two_level0_tiles(live_server, cli, tmp_path):
    url = live_server.url
    out = tmp_path / "world.tif"
    proc = gdal(GDAL_TRANSLATE, "--debug", "on", "-q", "-oo", "API=TILES", "-oo", "CACHE=NO",
                f"OGCAPI:{url}/collections/dem", "-outsize", "512", "256", str(out))
    base = f"{url}/collections/dem/map/tiles/WorldCRS84Quad/0/0"
    assert requested_tiles(proc.stderr) == {f"{base}/0": 200, f"{base}/1": 200}
    with rasterio.open(out) as ds:
        assert (ds.width, ds.height, ds.count) == (512, 256, 4)
        assert ds.crs.to_epsg() == 4326
        assert tuple(ds.bounds) == pytest.approx((-180, -90, 180, 90), abs=1e-6)
        got = ds.read()
    expected = bands(np.hstack([tile_rgba(url, "dem", "WorldCRS84Quad", 0, 0, x) for x in (0, 1)]))
    assert np.array_equal(got, expected)
    assert got[:3].std() > 20 and (got[3] == 255).all()  # real relief colours, fully opaque


@pytest.mark.parametrize("z, y, x", [(3, 2, 9), (5, 9, 36)])
def test_cli_tile_window_equals_tile_endpoint(live_server, cli, tmp_path, z, y, x):
    """A window exactly on one tile comes back pixel for pixel as the tile endpoint's PNG."""
    url = live_server.url
    b = morecantile.tms.get("WorldCRS84Quad").bounds(x, y, z)
    out = tmp_path / "tile.tif"
    proc = gdal(GDAL_TRANSLATE, "--debug", "on", "-q", "-oo", "API=TILES", "-oo", "CACHE=NO",
                f"OGCAPI:{url}/collections/dem", "-projwin", *map(repr, (b.left, b.top, b.right, b.bottom)),
                "-outsize", "256", "256", str(out))
    assert list(requested_tiles(proc.stderr)) == [f"{url}/collections/dem/map/tiles/WorldCRS84Quad/{z}/{y}/{x}"]
    with rasterio.open(out) as ds:
        assert tuple(ds.bounds) == pytest.approx((b.left, b.bottom, b.right, b.top), abs=1e-9)
        got = ds.read()
    assert np.array_equal(got, bands(tile_rgba(url, "dem", "WorldCRS84Quad", z, y, x)))


def test_cli_reads_a_deferred_workflow_collection(live_server, cli, tmp_path):
    """Part 3 collection output: GDAL opens the 303 target like any collection and gets hillshade tiles."""
    url = live_server.url
    r = httpx.post(f"{url}/processes/hillshade/execution?response=collection", timeout=30,
                   json={"inputs": {"data": {"collection": "dem"}, "z_factor": 30}})
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    cid = location.rstrip("/").rsplit("/", 1)[-1]
    z, y, x = 3, 2, 9
    b = morecantile.tms.get("WorldCRS84Quad").bounds(x, y, z)
    out = tmp_path / "hillshade.tif"
    gdal(GDAL_TRANSLATE, "-q", "-oo", "API=TILES", "-oo", "CACHE=NO", f"OGCAPI:{location}",
         "-projwin", *map(repr, (b.left, b.top, b.right, b.bottom)), "-outsize", "256", "256", str(out))
    with rasterio.open(out) as ds:
        got = ds.read()
    expected = bands(tile_rgba(url, cid, "WorldCRS84Quad", z, y, x))
    assert np.array_equal(got, expected)
    assert np.array_equal(got[0], got[1]) and got[0].std() > 5  # grey shading with real relief


def test_cli_web_mercator_with_explicit_bounds(live_server, cli, tmp_path):
    url = live_server.url
    opts = ["-oo", "API=TILES", "-oo", "CACHE=NO", "-oo", "TILEMATRIXSET=WebMercatorQuad",
            "-oo", f"MINX={-HALF!r}", "-oo", f"MINY={-HALF!r}", "-oo", f"MAXX={HALF!r}", "-oo", f"MAXY={HALF!r}"]
    info = json.loads(gdal(GDALINFO, "-json", *opts, f"OGCAPI:{url}/collections/dem").stdout)
    assert 'ID["EPSG",3857]' in info["coordinateSystem"]["wkt"]
    assert info["geoTransform"][0] == pytest.approx(-HALF) and info["geoTransform"][3] == pytest.approx(HALF)
    z, y, x = 3, 2, 4
    b = morecantile.tms.get("WebMercatorQuad").xy_bounds(x, y, z)
    out = tmp_path / "merc.tif"
    proc = gdal(GDAL_TRANSLATE, "--debug", "on", "-q", *opts, f"OGCAPI:{url}/collections/dem",
                "-projwin", *map(repr, (b.left, b.top, b.right, b.bottom)), "-outsize", "256", "256", str(out))
    assert list(requested_tiles(proc.stderr)) == [f"{url}/collections/dem/map/tiles/WebMercatorQuad/{z}/{y}/{x}"]
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 3857
        got = ds.read()
    assert np.array_equal(got, bands(tile_rgba(url, "dem", "WebMercatorQuad", z, y, x)))


def test_cli_small_collection_opens(live_server, cli, collections):
    """sentinel2 covers 10 km: its tilesets list only the levels on which that is at least a pixel,
    so GDAL 3.6 opens it (level 0 used to make it fail: 'Computed -srcwin ... negative width').

    Only the X axis is checked: GDAL 3.6 sizes each level from the full matrix height while cropping
    it to the limited rows, so any collection whose tileMatrixSetLimits leave out rows gets a wrong
    Y pixel size there (fixed in later GDAL, which builds every level on the whole matrix). Its
    coverage API, which API=AUTO prefers, is not affected; pixels of this collection are compared
    through GDAL 3.10 below.
    """
    url = live_server.url
    bbox = collections["sentinel2"]["extent"]["spatial"]["bbox"][0]
    tileset = httpx.get(f"{url}/collections/sentinel2/map/tiles/WorldCRS84Quad", timeout=30).json()
    first, last = (int(tileset["tileMatrixSetLimits"][i]["tileMatrix"]) for i in (0, -1))
    assert 180 / 256 / 2 ** first <= bbox[2] - bbox[0] < 180 / 256 / 2 ** (first - 1)
    info = json.loads(gdal(GDALINFO, "-json", "-oo", "API=TILES", f"OGCAPI:{url}/collections/sentinel2").stdout)
    gt, res = info["geoTransform"], 180 / 256 / 2 ** last
    assert gt[1] == pytest.approx(res) and gt[0] == pytest.approx(bbox[0], abs=res)
    assert info["size"][0] * res == pytest.approx(bbox[2] - bbox[0], abs=2 * res)
    assert len(info["bands"][0]["overviews"]) == last - first


def _tms_minidriver_xml(tileset: dict, tms: dict, z: int) -> str:
    """GDAL_WMS XML for one tile matrix, from the tileset's templated PNG item link and the matrix."""
    item = next(l for l in tileset["links"] if l["rel"] == "item" and l.get("type") == "image/png")
    assert item.get("templated") is True
    scheme = next(l for l in tileset["links"] if l["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme")
    assert scheme["href"].endswith("/tileMatrixSets/" + tms["id"])
    m = next(m for m in tms["tileMatrices"] if m["id"] == str(z))
    href = item["href"]
    for needle in ("{tileMatrix}", "{tileRow}", "{tileCol}"):
        assert needle in href, href
    href = href.replace("{tileMatrix}", m["id"]).replace("{tileRow}", "${y}").replace("{tileCol}", "${x}")
    (ox, oy), cell = m["pointOfOrigin"], m["cellSize"]
    width, height = m["matrixWidth"] * m["tileWidth"], m["matrixHeight"] * m["tileHeight"]
    return (f'<GDAL_WMS><Service name="TMS"><ServerUrl>{escape(href)}</ServerUrl></Service>'
            f"<DataWindow><UpperLeftX>{ox!r}</UpperLeftX><UpperLeftY>{oy!r}</UpperLeftY>"
            f"<LowerRightX>{ox + width * cell!r}</LowerRightX><LowerRightY>{oy - height * cell!r}</LowerRightY>"
            f"<TileLevel>0</TileLevel><TileY>0</TileY><SizeX>{width}</SizeX><SizeY>{height}</SizeY>"
            f"<YOrigin>top</YOrigin></DataWindow><Projection>{escape(tms['crs'])}</Projection>"
            f"<BlockSizeX>{m['tileWidth']}</BlockSizeX><BlockSizeY>{m['tileHeight']}</BlockSizeY>"
            f"<BandsCount>4</BandsCount><Timeout>60</Timeout></GDAL_WMS>")


@pytest.mark.parametrize("cid, tms_id, z, blocks", [
    ("dem", "WebMercatorQuad", 3, 2),
    ("dem", "WorldCRS84Quad", 4, 2),
    ("sentinel2", "WebMercatorQuad", 13, 1),
])
def test_gdal310_reads_tiles_from_the_tileset_documents(live_server, rio_gdal, collections, cid, tms_id, z, blocks):
    url = live_server.url
    tileset = httpx.get(f"{url}/collections/{cid}/map/tiles/{tms_id}", timeout=30).json()
    tms = httpx.get(f"{url}/tileMatrixSets/{tms_id}", timeout=30).json()
    t = center_tile(collections[cid]["extent"]["spatial"]["bbox"][0], tms_id, z)
    lim = next(l for l in tileset["tileMatrixSetLimits"] if l["tileMatrix"] == str(z))
    assert lim["minTileRow"] <= t.y <= lim["maxTileRow"] and lim["minTileCol"] <= t.x <= lim["maxTileCol"]
    with rasterio.Env(GDAL_HTTP_TIMEOUT="60", GDAL_HTTP_MAX_RETRY="0"):
        with rasterio.open(_tms_minidriver_xml(tileset, tms, z)) as ds:
            b = morecantile.tms.get(tms_id).xy_bounds(t)
            assert ds.index(b.left + 1e-6 * (b.right - b.left), b.top - 1e-6 * (b.top - b.bottom)) == (t.y * 256, t.x * 256)
            got = ds.read(window=Window(t.x * 256, t.y * 256, 256 * blocks, 256 * blocks))
    expected = np.vstack([np.hstack([tile_rgba(url, cid, tms_id, z, t.y + j, t.x + i) for i in range(blocks)])
                          for j in range(blocks)])
    assert np.array_equal(got, bands(expected))
    assert got[:3].std() > 5
