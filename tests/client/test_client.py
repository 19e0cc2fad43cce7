"""The Python client against a real server (uvicorn on loopback): the JSON it builds is the hand-written
Part 3 request, its pixels are the sync execution's GeoTIFF pixels, server errors carry the detail."""
from __future__ import annotations

import inspect

import httpx
import numpy as np
import pytest
from rasterio.io import MemoryFile

from geodeferred_client import Image, InvalidRequest, NotFoundError, NotSupported, Service
from geodeferred_client import geotiff
from geodeferred_client.methods import py_name

BBOX = [0, 40, 20, 50]


@pytest.fixture(scope="module")
def svc(client, live_server) -> Service:
    """(`client` first: it builds the session's demo data with no start-up deadline.)"""
    return Service(live_server.url)


@pytest.fixture(scope="module")
def s2_bbox(live_server) -> list[float]:
    return httpx.get(f"{live_server.url}/collections/sentinel2", timeout=30).json()["extent"]["spatial"]["bbox"][0]


@pytest.fixture(scope="module")
def summer(svc) -> tuple[str, str]:
    """May to September of the first year of the Sentinel-2 collection (from its own temporal extent)."""
    year = svc.collection("sentinel2").interval[0][:4]
    return f"{year}-05-01", f"{year}-09-30"


def geotiff_pixels(data: bytes) -> tuple[np.ndarray, tuple]:
    with MemoryFile(data) as mem, mem.open() as ds:
        return ds.read(), ds.transform


def deferred_location(url: str, request: dict) -> str:
    r = httpx.post(f"{url}/processes/{request['process']}/execution?response=collection",
                   json={"inputs": request["inputs"]}, timeout=30)
    assert r.status_code == 303, r.text
    return r.headers["location"]


def test_methods_are_generated_from_the_descriptions(svc, live_server):
    listing = httpx.get(f"{live_server.url}/processes", timeout=30).json()["processes"]
    dem = svc.collection("dem")
    with_raster_input = []
    for p in listing:
        desc = httpx.get(f"{live_server.url}/processes/{p['id']}", timeout=30).json()
        raster = [i for i in desc["inputs"].values()
                  if any("collection" in (o.get("required") or []) for o in i["schema"].get("oneOf", []))]
        if raster:  # a raster input: a method of images (workflow processes like burn-severity have none)
            with_raster_input.append(p["id"])
            method = getattr(dem, py_name(p["id"]))  # segment-features -> segment_features
            assert desc["title"] in method.__doc__ and desc["description"] in method.__doc__
    assert {"hillshade", "composite", "normalized_difference", "expression"} <= set(with_raster_input)
    assert {py_name(pid) for pid in with_raster_input} <= set(dir(dem))
    sig = inspect.signature(type(dem).hillshade)
    hs_inputs = httpx.get(f"{live_server.url}/processes/hillshade", timeout=30).json()["inputs"]
    assert sig.parameters["azimuth"].default == hs_inputs["azimuth"]["schema"]["default"]
    assert sig.parameters["azimuth"].kind is inspect.Parameter.KEYWORD_ONLY
    assert "bbox" not in sig.parameters and "data" not in sig.parameters
    assert list(inspect.signature(type(dem).mask).parameters)[:2] == ["self", "mask"]  # second raster input
    with pytest.raises(TypeError, match="azimut"):
        dem.hillshade(azimut=300)  # a misspelled parameter fails here, before any request


def test_json_equals_the_hand_written_part3_request(svc, live_server, summer):
    url = live_server.url
    s2 = svc.collection("sentinel2").filter_date(*summer)
    ndvi = s2.composite(method="median", bands=["B08", "B04"]).normalized_difference(a="B08", b="B04", name="ndvi")
    hand = {"process": "normalized_difference", "inputs": {
        "data": {"process": "composite", "inputs": {
            "data": {"collection": f"{url}/collections/sentinel2", "datetime": "/".join(summer)},
            "method": "median", "bands": ["B08", "B04"]}},
        "a": "B08", "b": "B04", "name": "ndvi"}}
    assert ndvi.to_dict() == hand
    dense = ndvi > 0.5
    assert dense.to_dict() == {"process": "expression", "inputs": {"data": hand, "expression": "(b1) > (0.5)", "name": "ndvi"}}
    hs = svc.collection("dem").hillshade(azimuth=315, z_factor=30)
    assert hs.to_dict() == {"process": "hillshade", "inputs": {"data": {"collection": f"{url}/collections/dem"},
                                                               "azimuth": 315, "z_factor": 30}}
    # the server sees the same graph: the same deferred collection (named by the graph's hash)
    assert dense.collection_url() == deferred_location(url, dense.to_dict())
    both = (svc.collection("dem") > 100) & (hs < 200)
    assert both.to_dict()["inputs"]["data"]["process"] == "stack"
    assert both.to_dict()["inputs"]["expression"] == "(b1) & (b2)"


def test_compute_equals_the_sync_execution_geotiff(svc, live_server, monkeypatch):
    hs = svc.collection("dem").hillshade(azimuth=300, z_factor=25)
    body = {"inputs": hs.to_dict()["inputs"] | {"bbox": BBOX, "width": 160}}
    r = httpx.post(f"{live_server.url}/processes/hillshade/execution", json=body, timeout=60)
    assert r.status_code == 200
    expected, transform = geotiff_pixels(r.content)
    got = hs.compute(bbox=BBOX, width=160)
    assert got.shape == expected.shape == (1, 80, 160)
    assert np.array_equal(got, expected, equal_nan=True)
    xa = hs.compute(bbox=BBOX, width=160, xarray=True)
    assert np.array_equal(xa.values, expected, equal_nan=True) and list(xa.band.values) == ["hillshade"]
    assert np.allclose(xa.x.values, [transform.c + transform.a * (i + 0.5) for i in range(160)])
    assert np.allclose(xa.y.values, [transform.f + transform.e * (j + 0.5) for j in range(80)])
    monkeypatch.setattr(geotiff, "_rasterio", geotiff._tifffile)  # the rasterio-free reader reads the same
    assert np.array_equal(hs.compute(bbox=BBOX, width=160), expected, equal_nan=True)
    # a source collection through Coverages equals the coverage GeoTIFF
    cov = httpx.get(f"{live_server.url}/collections/dem/coverage",
                    params={"bbox": ",".join(map(str, BBOX)), "scale-size": "Lon(64),Lat(32)"}, timeout=60)
    assert np.array_equal(svc.collection("dem").compute(bbox=BBOX, width=64, height=32), geotiff_pixels(cov.content)[0],
                          equal_nan=True)


def test_operators_match_numpy_on_the_same_pixels(svc):
    dem = svc.collection("dem")
    elev = dem.compute(bbox=BBOX, width=64, crs="EPSG:4326")[0]
    high = (dem > 200).compute(bbox=BBOX, width=64, crs="EPSG:4326")[0]
    assert np.array_equal(high, (elev > 200).astype(np.float32))
    scaled = ((dem * 2 + 10) / 4).compute(bbox=BBOX, width=64, crs="EPSG:4326")[0]
    assert np.allclose(scaled, (elev * 2 + 10) / 4, rtol=1e-6)
    hs = dem.hillshade(z_factor=20)
    shade = hs.compute(bbox=BBOX, width=64, crs="EPSG:4326")[0]
    both = ((dem > 0) & (hs < 150)).compute(bbox=BBOX, width=64, crs="EPSG:4326")[0]
    ok = np.isfinite(shade)
    assert np.array_equal(both[ok], ((elev > 0) & (shade < 150)).astype(np.float32)[ok])


def test_tile_layer_through_response_collection(svc, live_server, summer):
    hs = svc.collection("dem").hillshade(z_factor=30)
    layer = hs.tile_layer(colormap="gray")
    assert layer.url.startswith(deferred_location(live_server.url, hs.to_dict()) + "/map/tiles/WebMercatorQuad/")
    assert "{z}/{y}/{x}" in layer.url and "colormap=gray" in layer.url
    tile = httpx.get(layer.url.format(z=3, y=2, x=4), timeout=60)
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"
    with pytest.raises(InvalidRequest, match="colormap"):
        hs.tile_layer(colormap="no-such-map")
    s2 = svc.collection("sentinel2").filter_date(*summer).select("B04", "B03", "B02")
    assert f"datetime={summer[0]}/{summer[1]}" in s2.tile_layer().url.replace("%2F", "/")


def test_statistics_job_and_errors(svc, live_server, s2_bbox, summer):
    ndvi = svc.collection("sentinel2").filter_date(*summer) \
        .composite(bands=["B08", "B04"]).normalized_difference(a="B08", b="B04", name="ndvi")
    stats = ndvi.statistics(bbox=s2_bbox, width=64)
    pixels = ndvi.compute(bbox=s2_bbox, width=64)[0]
    assert stats["ndvi"]["count"] == int(np.isfinite(pixels).sum())
    assert stats["ndvi"]["mean"] == pytest.approx(float(np.nanmean(pixels)), rel=1e-5)
    job = ndvi.start(bbox=s2_bbox, width=64)
    assert np.array_equal(job.wait(timeout=120, progress=False).result(), pixels[None], equal_nan=True)
    assert job.status() == "successful" and job.progress == 100
    bad = svc.collection("dem").hillshade(azimuth=400)
    raw = httpx.post(f"{live_server.url}/processes/hillshade/execution",
                     json={"inputs": bad.to_dict()["inputs"] | {"bbox": BBOX, "width": 8}}, timeout=30).json()
    with pytest.raises(InvalidRequest) as e:
        bad.compute(bbox=BBOX, width=8)
    assert (e.value.status, e.value.title, e.value.detail) == (400, raw["title"], raw["detail"])
    assert "azimuth" in e.value.detail
    with pytest.raises(NotFoundError):
        svc.collection("no-such-collection")



def test_item_filter_on_a_collection_input(svc, live_server, s2_bbox, summer):
    url = live_server.url
    clear = svc.collection("sentinel2").filter_date(*summer).filter("eo:cloud_cover < 20")
    assert clear.to_dict() == {"collection": f"{url}/collections/sentinel2", "datetime": "/".join(summer),
                               "filter": "eo:cloud_cover < 20", "filter-lang": "cql2-text"}
    comp = clear.composite(bands=["B04"])
    hand = {"process": "composite", "inputs": {"data": clear.to_dict(), "bands": ["B04"]}}
    assert comp.to_dict() == hand and comp.collection_url() == deferred_location(url, hand)
    unfiltered = svc.collection("sentinel2").filter_date(*summer).composite(bands=["B04"])
    assert comp.collection_url() != unfiltered.collection_url()
    with pytest.raises(InvalidRequest, match="no_such_property"):
        svc.collection("sentinel2").filter("no_such_property < 3").composite(bands=["B04"]).compute(bbox=s2_bbox, width=8)
    # a service whose collection inputs take no filter (read from its descriptions): refused here, nothing sent
    other = Service(url)
    for desc in other._descriptions().values():
        for inp in desc["inputs"].values():
            for option in inp["schema"].get("oneOf", []):
                option.get("properties", {}).pop("filter", None)
    with pytest.raises(NotSupported, match="filter"):
        other.collection("sentinel2").filter("eo:cloud_cover < 20")


def test_features_filter(svc, live_server):
    every = httpx.get(f"{live_server.url}/collections/parcels/items", params={"limit": 1000}, timeout=30).json()["features"]
    maize = svc.features("parcels").filter("crop_type = 'maize'").get()["features"]
    assert maize and sorted(f["id"] for f in maize) == sorted(f["id"] for f in every
                                                             if f["properties"]["crop_type"] == "maize")
    gdf = svc.features("parcels").filter("crop_type = 'maize'").to_geopandas()
    assert len(gdf) == len(maize)


def test_non_raster_processes_become_results(svc):
    """A process whose outputs are not rasters (e.g. zonal statistics) gives a Result (get/start), not an Image."""
    from geodeferred_client import methods

    desc = {"id": "zonal-test", "title": "Zonal", "description": "table", "inputs": {
        "data": {"title": "Raster", "schema": {"oneOf": [{"required": ["collection"]}, {"required": ["process"]}]}},
        "stat": {"title": "Statistic", "schema": {"type": "string", "enum": ["mean", "max"], "default": "mean"}}},
        "outputs": {"table": {"schema": {"type": "object", "contentMediaType": "application/json"}}}}
    assert not methods.returns_raster(desc)
    svc._descriptions()["zonal-test"] = desc
    try:
        svc._classes.clear()
        result = svc.collection("dem").zonal_test(stat="max")
        assert type(result).__name__ == "Result" and not isinstance(result, Image)
        assert result.to_dict()["inputs"]["stat"] == "max" and hasattr(result, "start")
    finally:
        svc.refresh()
