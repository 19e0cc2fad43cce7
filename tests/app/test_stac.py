"""The STAC API and its asset files through the ASGI transport: landing link, bad search input as
problem documents naming the parameter (embedded backend), asset files with Range, no traversal."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

STAC = "/stac"
PROBLEM = "application/problem+json"


def stac_folder(client) -> Path:
    return client.app.state.services.catalog.rasters["sentinel2"].stac_folder


def test_landing_page_links_the_stac_api(client):
    links = [l for l in client.get("/").json()["links"] if l["href"].rstrip("/").endswith("/stac")]
    assert links and links[0]["type"] == "application/json"
    root = client.get(STAC + "/").json()
    assert root["type"] == "Catalog" and "https://api.stacspec.org/v1.0.0/item-search" in root["conformsTo"]
    rels = {l["rel"]: l for l in root["links"]}
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert rels["data"]["href"] == "http://testserver/stac/collections"
    assert client.get(STAC + "/api").headers["content-type"].startswith("application/vnd.oai.openapi+json")


def test_collection_is_the_catalog_entry(client):
    doc = client.get(STAC + "/collections/sentinel2").json()
    entry = client.get("/collections/sentinel2").json()
    assert doc["id"] == "sentinel2" and doc["title"] == entry["title"]
    assert doc["extent"]["spatial"]["bbox"] == entry["extent"]["spatial"]["bbox"]
    queryables = client.get(STAC + "/queryables").json()["properties"]
    assert {"eo:cloud_cover", "datetime", "proj:epsg"} <= set(queryables)
    assert queryables["eo:cloud_cover"]["type"] == "number"


@pytest.mark.parametrize("query, name", [
    ("datetime=2023-13-45", "datetime"),
    ("datetime=2023-09-30T00:00:00Z/2023-05-01T00:00:00Z", "datetime"),  # an empty range
    ("datetime=../..", "datetime"),
    ("filter=cloudiness%20%3C%2020", "filter"),  # unknown property
    ("filter=eo:cloud_cover%20%3C%3C%2020", "filter"),  # not CQL2
    ("filter-lang=cql2-json&filter=" + json.dumps({"op": "<", "args": [{"property": "nope"}, 1]}), "filter"),
    ("bbox=0,0,200,1", "bbox"),
    ("bbox=0,-95,1,1", "bbox"),
    ("bbox=1,2,3", "bbox"),
    ("bbox=a,b,c,d", "bbox"),
    ("sortby=-cloudiness", "sortby"),
])
def test_bad_search_input_is_400_naming_the_parameter(client, query, name):
    for path in ("/search", "/collections/sentinel2/items"):
        r = client.get(f"{STAC}{path}?{query}")
        assert r.status_code == 400, (path, query, r.text)
        assert r.headers["content-type"] == PROBLEM
        body = r.json()
        assert body["status"] == 400 and body["detail"].startswith(name), body


def test_bad_post_search_is_400(client):
    for body, name in (({"datetime": "2023-13-45"}, "datetime"), ({"bbox": [0, 0, 1, 100]}, "bbox"),
                       ({"filter": {"op": "=", "args": [{"property": "foo"}, 1]}, "filter-lang": "cql2-json"}, "filter")):
        r = client.post(STAC + "/search", json=body)
        assert r.status_code == 400 and r.headers["content-type"] == PROBLEM, r.text
        assert r.json()["detail"].startswith(name)
    r = client.post(STAC + "/search", json={"limit": "many"})  # the backend's own validation, our format
    assert r.status_code == 400 and r.headers["content-type"] == PROBLEM and "limit" in r.json()["detail"]


def test_backend_errors_are_problem_documents(client):
    for path in ("/collections/nope", "/collections/sentinel2/items/nope", "/nothing"):
        r = client.get(STAC + path)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, path
        assert r.json()["type"].endswith("/not-found")


def test_a_good_search_still_answers_geojson(client):
    r = client.get(STAC + "/search?collections=sentinel2&datetime=2023-05-01T00:00:00Z/..&filter=eo:cloud_cover<20")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    assert all(f["properties"]["eo:cloud_cover"] < 20 for f in r.json()["features"])


def test_assets_are_served_with_range_requests(client):
    item = client.get(STAC + "/search?collections=sentinel2&limit=1").json()["features"][0]
    asset = next(a for a in item["assets"].values() if a["type"].startswith("image/tiff"))
    path = asset["href"].replace("http://testserver", "")
    local = stac_folder(client) / path.rsplit("/", 1)[1]
    data = local.read_bytes()
    r = client.get(path, headers={"Range": "bytes=100-1123"})
    assert r.status_code == 206 and r.content == data[100:1124]
    assert r.headers["content-range"] == f"bytes 100-1123/{len(data)}"
    assert r.headers["content-type"].startswith("image/tiff")
    head = client.head(path)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(data)
    assert head.headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize("path", [
    "/assets/sentinel2/../../../etc/passwd",
    "/assets/sentinel2/%2e%2e/%2e%2e/etc/passwd",
    "/assets/..%2F..%2Fetc%2Fpasswd",
    "/assets/sentinel2/S2_nope/S2_nope_SCL.tif",
    "/assets/dem/dem_720.tif",  # a real file, but not a catalogued STAC asset
    "/assets/",
])
def test_only_catalogued_asset_files_are_served(client, path):
    r = client.get(path)
    assert r.status_code == 404 and "root:" not in r.text


def test_links_follow_the_configured_public_url(settings, tmp_path):
    from starlette.testclient import TestClient

    from app.main import create_app

    public = "https://maps.example.org/geo"
    app = create_app(settings.model_copy(update={"public_url": public, "jobs_dir": tmp_path / "jobs"}))
    with TestClient(app) as c:
        root = c.get(STAC + "/").json()
        assert {l["rel"]: l["href"] for l in root["links"]}["data"] == public + "/stac/collections"
        item = c.get(STAC + "/search?limit=1").json()["features"][0]
        assert all(a["href"].startswith(public + "/assets/") for a in item["assets"].values())
        assert next(l for l in item["links"] if l["rel"] == "self")["href"].startswith(public + "/stac/collections/")


def test_no_stac_collection_no_stac_api(settings, tmp_path):
    from starlette.testclient import TestClient

    from app.main import create_app

    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("collections:\n  dem: {type: raster, title: DEM, demo: dem, bands: [elevation]}\n")
    app = create_app(settings.model_copy(update={"catalog": catalog, "jobs_dir": tmp_path / "jobs"}))
    with TestClient(app) as c:
        r = c.get(STAC + "/")
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
        assert c.get("/assets/dem/dem_720.tif").status_code == 404
