"""Landing page, conformance, OpenAPI and collections over HTTP (ASGI transport)."""
from __future__ import annotations

import re

from starlette.staticfiles import StaticFiles

OAS = "application/vnd.oai.openapi+json;version=3.0"


def test_landing_page_json_and_html(client):
    doc = client.get("/").json()
    rels = {l["rel"]: l for l in doc["links"]}
    for rel in ("self", "service-desc", "conformance", "data"):
        assert rel in rels
    assert rels["service-desc"]["type"] == OAS
    html = client.get("/", headers={"Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html")
    assert "/collections" in html.text and "<h1>geodeferred</h1>" in html.text
    assert client.get("/?f=html").headers["content-type"].startswith("text/html")


def test_links_resolve(client):
    for l in client.get("/").json()["links"]:
        path = l["href"].replace("http://testserver", "")
        assert client.get(path).status_code == 200, path


def test_conformance_declares_what_is_served(client):
    conf = client.get("/conformance").json()["conformsTo"]
    for part in ("ogcapi-common-1/1.0/conf/core", "ogcapi-tiles-1/1.0/conf/core",
                 "ogcapi-processes-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/core",
                 "ogcapi-coverages-1/1.0/conf/core", "ogcapi-processes-3/0.0/conf/collection-output"):
        assert any(part in c for c in conf), part


def test_openapi_describes_every_route(client):
    r = client.get("/api")
    assert r.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    doc = r.json()
    assert doc["openapi"].startswith("3.0")
    served = {re.sub(r"{(\w+):\w+}", r"{\1}", route.path) for route in client.app.routes
              if not isinstance(getattr(route, "app", None), StaticFiles)}  # page assets (Leaflet, Swagger UI) are no API
    assert served <= set(doc["paths"]), served - set(doc["paths"])
    assert "$ref\": \"http" not in r.text  # resolvable offline
    tile = doc["paths"]["/collections/{cid}/map/tiles/{tms}/{z}/{y}/{x}"]["get"]
    assert {p["name"] for p in tile["parameters"]} >= {"cid", "tms", "z", "y", "x"}


def test_collections_list_rasters_and_features(client):
    cols = {c["id"]: c for c in client.get("/collections").json()["collections"]}
    assert {"dem", "sentinel2", "protected_sites", "parcels", "fire_perimeters"} <= set(cols)
    dem = cols["dem"]
    rels = {l["rel"] for l in dem["links"]}
    assert "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map" in rels
    assert "http://www.opengis.net/def/rel/ogc/1.0/coverage" in rels
    assert dem["extent"]["spatial"]["bbox"][0] == [-180, -90, 180, 90]
    s2 = client.get("/collections/sentinel2").json()
    assert "B08" in s2["bands"] and s2["extent"]["temporal"]["interval"][0][0].startswith("2021")
    assert s2["extent"]["temporal"]["interval"][0][1].startswith("2023")
    assert {"dem_detail", "landcover"} <= set(cols)


def test_unknown_collection_is_404_problem(client):
    r = client.get("/collections/nope")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 404 and body["type"].startswith("http") and "nope" in body["detail"]


def test_unknown_path_and_method(client):
    assert client.get("/nothing/here").status_code == 404
    r = client.put("/processes")
    assert r.status_code == 405 and r.json()["status"] == 405
