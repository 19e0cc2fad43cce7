"""The interoperability faults of issue 11, each checked over HTTP (ASGI transport)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import morecantile
import numpy as np
import pytest
from rasterio.enums import ColorInterp

from processes.outputs import read_geotiff_bytes

from .jobs_util import wait_job

HILLSHADE = {"process": "hillshade", "inputs": {"data": {"collection": "dem"}, "z_factor": 40}}


def test_tilejson_template_does_not_carry_the_document_format(client):
    tj = client.get("/collections/dem/map/tiles/WebMercatorQuad/tilejson.json?f=json&algorithm=hillshade&z_factor=30")
    assert tj.status_code == 200
    template = tj.json()["tiles"][0]
    query = parse_qs(urlsplit(template).query)
    assert query == {"algorithm": ["hillshade"], "z_factor": ["30"]}
    tile = client.get(template.replace("http://testserver", "").format(z=2, y=1, x=2))
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"


def test_dismissed_job_is_gone(client):
    body = {"inputs": {"data": {"collection": "dem"}, "bbox": [0, 40, 10, 45], "width": 64}}
    r = client.post("/processes/slope/execution", json=body, headers={"Prefer": "respond-async"})
    url = r.headers["location"].replace("http://testserver", "")
    assert wait_job(client, url)["status"] == "successful"
    job_id = url.rsplit("/", 1)[1]
    assert client.delete(url).json()["status"] == "dismissed"
    for path in (url, url + "/results", url + "/results/result"):
        got = client.get(path)
        assert got.status_code == 404 and got.json()["type"].endswith("no-such-job"), path
    assert client.delete(url).status_code == 404
    assert job_id not in {j["jobID"] for j in client.get("/jobs?limit=1000").json()["jobs"]}
    assert job_id in {j["jobID"] for j in client.get("/jobs?status=dismissed&limit=1000").json()["jobs"]}


def test_nested_process_takes_the_region_its_description_advertises(client):
    assert "bbox" in client.get("/processes/hillshade").json()["inputs"]
    region = {"bbox": [2, 42, 6, 44], "width": 128}
    top = client.post("/processes/slope/execution", json={"inputs": {"data": HILLSHADE, **region}})
    nested_inputs = {**HILLSHADE["inputs"], **region}
    nested = client.post("/processes/slope/execution",
                         json={"inputs": {"data": {"process": "hillshade", "inputs": nested_inputs}}})
    assert top.status_code == nested.status_code == 200, nested.text
    a, _ = read_geotiff_bytes(top.content)
    b, prof = read_geotiff_bytes(nested.content)
    np.testing.assert_array_equal(a, b)
    assert prof["width"] == 128
    both = client.post("/processes/slope/execution",
                       json={"inputs": {"data": {"process": "hillshade", "inputs": nested_inputs}, **region}})
    assert both.status_code == 200
    np.testing.assert_array_equal(read_geotiff_bytes(both.content)[0], a)


def test_nested_region_that_disagrees_is_a_400_naming_it(client):
    inner = {**HILLSHADE["inputs"], "bbox": [0, 40, 1, 41]}
    r = client.post("/processes/slope/execution",
                    json={"inputs": {"data": {"process": "hillshade", "inputs": inner}, "bbox": [2, 42, 6, 44]}})
    assert r.status_code == 400
    assert r.json()["detail"].startswith("slope.inputs.data.inputs.bbox: a nested process asks for another region")


def test_conformance_claims_only_served_tiles_classes(client):
    conf = client.get("/conformance").json()["conformsTo"]
    tiles = {c.rsplit("/", 1)[1] for c in conf if "ogcapi-tiles-1" in c}
    assert tiles == {"core", "tileset", "tilesets-list", "geodata-tilesets", "dateTime", "png", "jpeg"}
    # each claimed class, served
    coll = client.get("/collections/dem").json()
    sets = next(lk["href"] for lk in coll["links"] if lk["rel"].endswith("tilesets-map"))
    assert sets.endswith("/map/tiles") and client.get(sets.replace("http://testserver", "")).json()["tilesets"]
    assert client.get("/collections/dem/map/tiles/WebMercatorQuad/1/0/0?f=jpeg").headers["content-type"] == "image/jpeg"
    t = morecantile.tms.get("WebMercatorQuad").tile(4.36, 43.43, 12)
    in_2022 = client.get(f"/collections/sentinel2/map/tiles/WebMercatorQuad/12/{t.y}/{t.x}?datetime=2022-01-01/2022-12-31")
    in_2023 = client.get(f"/collections/sentinel2/map/tiles/WebMercatorQuad/12/{t.y}/{t.x}?datetime=2023-01-01/2023-12-31")
    assert in_2022.status_code == in_2023.status_code == 200 and in_2022.content != in_2023.content


def test_coverage_subset_and_bbox_together_is_a_400(client):
    r = client.get("/collections/dem/coverage?bbox=0,40,10,45&subset=Lat(40:45)")
    assert r.status_code == 400 and "subset" in r.json()["detail"] and "bbox" in r.json()["detail"]


def test_feature_limit_has_a_maximum_and_a_default_that_fits_the_layers(client):
    api = client.get("/api").json()
    limit = next(p for p in api["paths"]["/collections/{cid}/items"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] >= limit["schema"]["default"] >= 243
    page = client.get("/collections/parcels/items").json()
    assert page["numberMatched"] == page["numberReturned"] == len(page["features"])
    assert not any(lk["rel"] == "next" for lk in page["links"])


def test_feature_collection_items_link_takes_a_feature_id(client):
    """GDAL 3.6 appends /{id} to the GeoJSON items link: its href must be a clean path."""
    coll = client.get("/collections/protected_sites").json()
    items = next(lk["href"] for lk in coll["links"] if lk["rel"] == "items" and lk["type"] == "application/geo+json")
    assert "?" not in items
    r = client.get(items.replace("http://testserver", "") + "/PS01", headers={"Accept": "application/geo+json, application/json"})
    assert r.status_code == 200 and r.json()["id"] == "PS01"


def test_raster_collections_say_they_are_coverages(client):
    """GDAL's OAPIF driver (and QGIS through it) skips collections whose layerDataType is Coverage."""
    cols = {c["id"]: c for c in client.get("/collections").json()["collections"]}
    assert cols["dem"]["layerDataType"] == cols["sentinel2"]["layerDataType"] == "Coverage"
    assert "layerDataType" not in cols["parcels"]
    assert not any(lk["rel"] == "items" for lk in cols["dem"]["links"])


def test_coverage_geotiff_names_its_bands_and_marks_true_colour(client):
    r = client.get("/collections/sentinel2/coverage?bbox=4.3,43.3,4.4,43.4&scale-size=Lon(32),Lat(32)")
    if r.status_code != 200:
        pytest.fail(r.text)
    _, prof = read_geotiff_bytes(r.content)
    names = prof["descriptions"]
    bands = client.get("/collections/sentinel2/coverage/rangetype").json()["field"]
    assert list(names) == [f["id"] for f in bands]
    ci = dict(zip(names, prof["colorinterp"]))
    assert (ci["B04"], ci["B03"], ci["B02"]) == (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
    dem, prof = read_geotiff_bytes(client.get("/collections/dem/coverage?bbox=0,40,1,41").content)
    assert prof["descriptions"] == ("elevation",) and prof["colorinterp"] == (ColorInterp.gray,)
