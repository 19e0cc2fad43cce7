"""owslib (OGC API - Common, Features, Processes clients) against the live server.

owslib 0.35 has no OGC API - Tiles client (``owslib.ogcapi`` holds coverages, edr, features, maps,
processes, records, connectedsystems; ``owslib.tms`` is the old OSGeo TMS): tiles are tested with
GDAL in test_gdal.py.
"""
from __future__ import annotations

import base64
import time

import httpx
import owslib
import pytest
from owslib.ogcapi import API, REQUEST_HEADERS
from owslib.ogcapi.features import Features
from owslib.ogcapi.processes import Processes
from rasterio.io import MemoryFile

RASTERS = {"dem", "sentinel2"}
VECTORS = {"parcels", "protected_sites", "fire_perimeters"}
OAS30 = "application/vnd.oai.openapi+json;version=3.0"
HILLSHADE = {"data": {"collection": "dem"}, "bbox": [0, 40, 20, 50], "width": 64}


@pytest.fixture(autouse=True)
def _owslib_headers():
    """owslib keeps one module-level header dict for every client and Processes.execute() writes
    'Prefer' into it: restore it so no test leaks respond-async into another."""
    saved = dict(REQUEST_HEADERS)
    yield
    REQUEST_HEADERS.clear()
    REQUEST_HEADERS.update(saved)


@pytest.fixture(scope="module")
def url(live_server, say) -> str:
    say(f"owslib {owslib.__version__}")
    return live_server.url


def geotiff(data: bytes) -> tuple[tuple[int, int], tuple[float, ...], int | None]:
    with MemoryFile(data) as mem, mem.open() as ds:
        assert ds.read().std() > 0  # real shading, not a constant
        return (ds.width, ds.height), tuple(ds.bounds), ds.crs.to_epsg()


def test_landing_page_conformance_and_api_definition(url):
    api = API(url)
    desc = [l for l in api.links if l["rel"] == "service-desc"]
    assert [l["type"] for l in desc] == [OAS30]  # the only type owslib looks for (besides YAML)
    doc = api.api()
    assert doc["openapi"].startswith("3.0")
    assert {"/collections", "/processes/{pid}/execution", "/collections/{cid}/map/tiles/{tms}/{z}/{y}/{x}",
            "/collections/{cid}/items"} <= set(doc["paths"])
    conforms = set(api.conformance()["conformsTo"])
    for c in ("http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
              "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
              "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
              "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"):
        assert c in conforms


def test_features_collections_and_items(url):
    f = Features(url)
    cols = {c["id"]: c for c in f.collections()["collections"]}
    assert RASTERS | VECTORS <= set(cols)
    assert set(f.feature_collections()) == VECTORS  # the rasters are not mistaken for feature collections
    assert f.collection("dem")["extent"]["spatial"]["bbox"] == [[-180.0, -90.0, 180.0, 90.0]]
    page = f.collection_items("parcels", limit=5)
    assert page["type"] == "FeatureCollection" and len(page["features"]) == 5
    assert page["numberMatched"] >= 5 and page["numberReturned"] == 5
    first = page["features"][0]
    one = f.collection_item("parcels", str(first["id"]))
    assert one["id"] == first["id"] and one["geometry"] == first["geometry"]
    w, s, e, n = cols["parcels"]["extent"]["spatial"]["bbox"][0]
    west_half = f.collection_items("parcels", bbox=[w, s, (w + e) / 2, n], limit=1000)
    assert 0 < west_half["numberMatched"] < page["numberMatched"]


def test_processes_list_and_describe(url):
    p = Processes(url)
    ids = {x["id"] for x in p.processes()}
    assert {"hillshade", "slope", "aspect", "normalized_difference", "expression"} <= ids
    d = p.process("hillshade")
    assert {"data", "azimuth", "altitude", "z_factor", "bbox", "width"} <= set(d["inputs"])
    assert "result" in d["outputs"]
    assert d["outputs"]["result"]["schema"]["contentMediaType"] == "image/tiff; application=geotiff"
    assert {"sync-execute", "async-execute"} <= set(d["jobControlOptions"])


def test_execute_sync_equals_a_direct_post(url):
    doc = Processes(url).execute("hillshade", HILLSHADE)  # owslib sends response=document, Prefer: respond-sync
    result = doc["result"]
    assert result["encoding"] == "base64" and result["mediaType"] == "image/tiff; application=geotiff"
    direct = httpx.post(f"{url}/processes/hillshade/execution", timeout=60,
                        json={"inputs": HILLSHADE, "response": "document"})
    assert direct.status_code == 200 and direct.json() == doc
    raw = httpx.post(f"{url}/processes/hillshade/execution", json={"inputs": HILLSHADE}, timeout=60)
    assert raw.headers["content-type"] == "image/tiff; application=geotiff"
    assert base64.b64decode(result["value"]) == raw.content
    size, bounds, epsg = geotiff(raw.content)
    assert size == (64, 32) and epsg == 4326
    assert bounds == pytest.approx((0, 40, 20, 50))


def test_execute_async_through_owslib(url):
    p = Processes(url)
    status = p.execute("hillshade", HILLSHADE, async_=True)
    assert status["status"] in ("accepted", "running", "successful") and status["processID"] == "hillshade"
    job = f"{url}/jobs/{status['jobID']}"
    assert p.response_headers["Location"] == job
    deadline = time.monotonic() + 60
    while (info := httpx.get(job, timeout=10).json())["status"] in ("accepted", "running"):
        assert time.monotonic() < deadline, info
        time.sleep(0.1)
    assert info["status"] == "successful", info
    results = httpx.get(f"{job}/results", timeout=10).json()
    tif = httpx.get(results["result"]["href"], timeout=30)
    assert tif.headers["content-type"] == "image/tiff; application=geotiff"
    size, bounds, _ = geotiff(tif.content)
    assert size == (64, 32) and bounds == pytest.approx((0, 40, 20, 50))
