"""OGC API - Features Part 1 over the vector collections, through real HTTP (ASGI transport and uvicorn).

The data are small GeoJSON layers written by the fixtures (not the demo data); expected results
are computed independently with shapely and datetime, and owslib is the independent client.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import shapely
from shapely.geometry import shape

from app.routes.features import LIMITS

from .features_fixtures import (  # noqa: F401  (fixtures are used by name)
    F1,
    N_POINTS,
    N_SITES,
    GEOJSON,
    layers,
    features_settings,
    fc,
    items,
    all_ids,
    next_href,
    assert_problem,
    fid,
    utc,
)


# ---------------------------------------------------------------- conformance and collection descriptions
def test_conformance_declares_features_classes(fc):
    conforms = fc.get("/conformance").json()["conformsTo"]
    for c in ("core", "geojson", "html", "oas30"):
        assert F1 + c in conforms


def test_collection_description(fc, layers):
    r = fc.get("/collections/sites")
    assert r.status_code == 200
    doc = r.json()
    assert doc["id"] == "sites" and doc["itemType"] == "feature" and doc["title"] == "Test sites"
    assert doc["keywords"] == ["test", "sites"]
    geoms = [shape(f["geometry"]) for f in layers["sites"] if f["geometry"]]
    assert doc["extent"]["spatial"]["bbox"][0] == pytest.approx(list(shapely.total_bounds(geoms)))
    start, end = doc["extent"]["temporal"]["interval"][0]
    assert start.startswith("1998-05-01T00:00:00") and end.startswith("2021-12-31T23:59:59")
    assert doc["crs"] == ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]
    rels = {(ln["rel"], ln.get("type")) for ln in doc["links"]}
    assert ("items", GEOJSON) in rels and ("items", "text/html") in rels and ("self", "application/json") in rels
    items_href = next(ln["href"] for ln in doc["links"] if ln["rel"] == "items" and ln["type"] == GEOJSON)
    assert fc.get(items_href).headers["content-type"].startswith(GEOJSON)
    assert "temporal" not in fc.get("/collections/points").json()["extent"]


def test_collections_list_has_the_vector_collections(fc):
    cols = {c["id"]: c for c in fc.get("/collections").json()["collections"]}
    assert {"sites", "fires", "points"} <= set(cols)
    assert all(cols[c]["itemType"] == "feature" for c in ("sites", "fires", "points"))


# ---------------------------------------------------------------- paging
@pytest.mark.parametrize("limit", [1, 7, 10, 39, 40, 41])
def test_paging_with_next_links_returns_every_feature_once(fc, layers, limit):
    expected = [fid(f) for f in layers["sites"]]
    seen, pages = [], 0
    doc = items(fc, "sites", limit=limit)
    while True:
        pages += 1
        assert doc["numberMatched"] == N_SITES
        assert doc["numberReturned"] == min(limit, N_SITES - len(seen))
        seen += [fid(f) for f in doc["features"]]
        href = next_href(doc)
        if href is None:
            break
        r = fc.get(href)
        assert r.status_code == 200 and r.headers["content-type"].startswith(GEOJSON)
        doc = r.json()
        assert pages < 100
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    assert pages == -(-N_SITES // limit)  # the last page (also an exactly full one) has no next link


def test_last_page_and_beyond(fc):
    doc = items(fc, "sites", limit=10, offset=30)
    assert doc["numberReturned"] == 10 and next_href(doc) is None
    assert any(ln["rel"] == "prev" for ln in doc["links"])
    self_href = next(ln["href"] for ln in doc["links"] if ln["rel"] == "self")
    assert "offset=30" in self_href
    doc = items(fc, "sites", limit=10, offset=100)
    assert doc["numberReturned"] == 0 and doc["numberMatched"] == N_SITES and next_href(doc) is None


def test_default_and_maximum_limit(fc):
    """Pages of 1000 by default (GeoPandas reading /items gets whole small layers), up to 10000 (the
    `maximum` in the API definition, which GDAL >= 3.7 and QGIS ask for); a larger limit is reduced."""
    assert (LIMITS["default_items"], LIMITS["max_items"]) == (1000, 10000)
    doc = items(fc, "points")
    assert doc["numberReturned"] == 1000 and doc["numberMatched"] == N_POINTS and next_href(doc)
    doc = fc.get(next_href(doc)).json()
    assert doc["numberReturned"] == N_POINTS - 1000 and next_href(doc) is None
    doc = items(fc, "points", limit=50000)
    assert doc["numberReturned"] == N_POINTS and next_href(doc) is None


def test_paging_keeps_the_filters(fc, layers):
    box = shapely.box(0, 40, 6, 46)
    expected = {fid(f) for f in layers["sites"] if f["geometry"] and shape(f["geometry"]).intersects(box)}
    seen = []
    doc = items(fc, "sites", bbox="0,40,6,46", limit=3)
    while True:
        assert doc["numberMatched"] == len(expected)
        seen += [fid(f) for f in doc["features"]]
        if (href := next_href(doc)) is None:
            break
        doc = fc.get(href).json()
    assert sorted(seen) == sorted(expected)


# ---------------------------------------------------------------- bbox, datetime, property filters
@pytest.mark.parametrize("bbox", [(0, 40, 5, 45), (2.5, 41.2, 7.1, 48.3), (9.9, 49.9, 20, 60), (-10, -10, -5, -5),
                                  (3, 42, 3.5, 42.5)])
def test_bbox_returns_exactly_the_intersecting_features(fc, layers, bbox):
    box = shapely.box(*bbox)
    expected = {fid(f) for f in layers["sites"] if f["geometry"] and shape(f["geometry"]).intersects(box)}
    assert set(all_ids(fc, "sites", bbox=",".join(map(str, bbox)))) == expected


def test_bbox_across_the_antimeridian(fc):
    assert set(all_ids(fc, "sites", bbox="179,-1,-179,1")) == {"site-36", "site-37"}
    assert set(all_ids(fc, "sites", bbox="179.5,-1,180,1")) == {"site-36"}


def test_bbox_with_six_numbers(fc, layers):
    box = shapely.box(0, 40, 5, 45)
    expected = {fid(f) for f in layers["sites"] if f["geometry"] and shape(f["geometry"]).intersects(box)}
    assert set(all_ids(fc, "sites", bbox="0,40,-100,5,45,100")) == expected


@pytest.mark.parametrize("value,lo,hi", [
    ("2015-06-01", "2015-06-01", "2015-06-01"),
    ("2010-01-01/2015-12-31", "2010-01-01", "2015-12-31"),
    ("../2005-06-30", "0001-01-01", "2005-06-30"),
    ("2018-01-01/..", "2018-01-01", "9999-12-31"),
    ("2012-03-15T00:00:00Z/2012-03-15T00:00:00Z", "2012-03-15", "2012-03-15"),
    ("2030-01-01", "2030-01-01", "2030-01-01"),  # outside the extent: empty, not an error
])
def test_datetime_on_dates(fc, layers, value, lo, hi):
    lo_d, hi_d = date.fromisoformat(lo), date.fromisoformat(hi)
    expected = {fid(f) for f in layers["sites"]
                if "established" in f["properties"] and lo_d <= date.fromisoformat(f["properties"]["established"]) <= hi_d}
    assert set(all_ids(fc, "sites", datetime=value)) == expected


@pytest.mark.parametrize("value", ["2022-07-15T12:30:00Z", "2022-07-15T12:30:00+00:00",
                                   "2022-07-15T00:00:00Z/2022-07-15T23:59:59Z", "2022-07-16T00:00:00Z/..",
                                   "../2022-07-15T12:30:00Z", "2022-07-15"])
def test_datetime_on_date_times(fc, layers, value):
    if "/" in value:
        a, b = value.split("/")
        lo = datetime.min.replace(tzinfo=timezone.utc) if a == ".." else utc(a)
        hi = datetime.max.replace(tzinfo=timezone.utc) if b == ".." else utc(b)
    elif len(value) == 10:
        lo, hi = utc(value + "T00:00:00Z"), utc(value + "T23:59:59.999999Z")
    else:
        lo = hi = utc(value)
    expected = {f["properties"]["fire_id"] for f in layers["fires"] if lo <= utc(f["properties"]["datetime"]) <= hi}
    assert expected  # every case selects something
    assert set(all_ids(fc, "fires", datetime=value)) == expected


def test_property_filters(fc, layers):
    sites = layers["sites"]
    assert set(all_ids(fc, "sites", kind="wetland")) == {fid(f) for f in sites if f["properties"]["kind"] == "wetland"}
    assert set(all_ids(fc, "sites", rank="3")) == {fid(f) for f in sites if f["properties"]["rank"] == 3}
    both = {fid(f) for f in sites if f["properties"]["kind"] == "dune" and f["properties"]["rank"] == 2}
    assert set(all_ids(fc, "sites", kind="dune", rank=2)) == both
    box = shapely.box(0, 40, 5, 50)
    combined = {fid(f) for f in sites if f["properties"]["kind"] == "forest" and f["geometry"]
                and shape(f["geometry"]).intersects(box) and f["properties"].get("established", "") >= "2010-01-01"}
    assert set(all_ids(fc, "sites", kind="forest", bbox="0,40,5,50", datetime="2010-01-01/..")) == combined
    assert all_ids(fc, "sites", kind="nothing") == []


def test_properties_skip_geometry_sortby_and_hits(fc, layers):
    doc = items(fc, "sites", limit=5, properties="name,area", skipGeometry="true", sortby="-area")
    areas = sorted((f["properties"]["area"] for f in layers["sites"]), reverse=True)[:5]
    assert [f["properties"]["area"] for f in doc["features"]] == areas
    assert all(set(f["properties"]) == {"name", "area"} and f["geometry"] is None for f in doc["features"])
    assert items(fc, "sites", crs="http://www.opengis.net/def/crs/OGC/1.3/CRS84", limit=3)["numberReturned"] == 3
    doc = items(fc, "sites", resulttype="HITS", kind="forest")
    assert doc["features"] == [] and doc["numberMatched"] == sum(f["properties"]["kind"] == "forest" for f in layers["sites"])
    assert next_href(doc) is None


# ---------------------------------------------------------------- single items
def test_item_by_id(fc, layers):
    for f in (layers["sites"][5], layers["sites"][38]):
        r = fc.get(f"/collections/sites/items/{f['id']}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(GEOJSON)
        doc = r.json()
        assert doc["type"] == "Feature" and doc["id"] == f["id"] and doc["properties"] == f["properties"]
        if f["geometry"]:
            assert shape(doc["geometry"]).equals(shape(f["geometry"]))
        else:
            assert doc["geometry"] is None
        assert any(ln["rel"] == "collection" for ln in doc["links"])
    fire = fc.get("/collections/fires/items/F003").json()  # id taken from id_field
    assert fire["id"] == "F003" and fire["properties"]["burned_ha"] == 30.0
    assert fc.get("/collections/points/items/17").json()["properties"] == {"n": 17}


def test_not_found(fc):
    assert_problem(fc.get("/collections/sites/items/nope"), 404)
    assert_problem(fc.get("/collections/unknown/items"), 404)
    assert_problem(fc.get("/collections/unknown/items/1"), 404)
    assert_problem(fc.get("/collections/unknown"), 404)


# ---------------------------------------------------------------- malformed requests
@pytest.mark.parametrize("query", [
    "limit=0", "limit=-1", "limit=abc", "limit=1.5", "limit=true", "offset=-1", "offset=x",
    "bbox=1,2,3", "bbox=a,b,c,d", "bbox=0,10,5,5", "bbox=1,2,3,4,5", "bbox=nan,0,1,1", "bbox=0,0,inf,1",
    "datetime=notadate", "datetime=2020-13-01", "datetime=2021-01-01/2020-01-01", "datetime=../..",
    "datetime=2020-01-01/2020-02-01/2020-03-01",
    "bbox=0,0,1,1&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857", "bbox-crs=http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "crs=http://www.opengis.net/def/crs/EPSG/0/3857",
    "foo=bar", "filter=kind =", "filter=nosuch='dune'", "filter-lang=cql2-text", "filter=kind='dune'&filter-lang=sql",
    "filter=kind='dune'&filter-crs=http://www.opengis.net/def/crs/EPSG/0/3857", "q=forest", "skipGeometry=maybe", "resulttype=all", "sortby=nothing",
    "properties=nothing", "rank=many",
])
def test_malformed_items_requests_are_400(fc, query):
    body = assert_problem(fc.get(f"/collections/sites/items?{query}"), 400)
    assert body["instance"] == "/collections/sites/items"


def test_item_rejects_unknown_parameters(fc):
    assert_problem(fc.get("/collections/sites/items/site-1?limit=3"), 400)


def test_unsupported_format_is_406(fc):
    assert_problem(fc.get("/collections/sites/items?f=jsonld"), 406)


# ---------------------------------------------------------------- formats
def test_html(fc):
    for path in ("/collections/sites/items", "/collections/sites/items/site-3", "/collections/sites"):
        r = fc.get(path, params={"f": "html"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "<html" in r.text.lower()
        r = fc.get(path, headers={"Accept": "text/html"})
        assert r.headers["content-type"].startswith("text/html")
    assert "Site 03" in fc.get("/collections/sites/items/site-3?f=html").text


def test_json_links_are_served_formats(fc):
    doc = items(fc, "sites", limit=5)
    rels = {ln["rel"]: ln for ln in doc["links"]}
    assert rels["self"]["type"] == GEOJSON and rels["alternate"]["type"] == "text/html"
    for ln in doc["links"]:
        assert ln.get("type") != "application/ld+json"
        r = fc.get(ln["href"])
        assert r.status_code == 200, ln


def test_queryables(fc):
    r = fc.get("/collections/sites/queryables")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/schema+json")
    props = r.json()["properties"]
    assert props["kind"]["type"] == "string" and props["area"]["type"] == "number"
    assert props["rank"]["type"] == "integer" and props["established"]["format"] == "date"
    assert_problem(fc.get("/collections/unknown/queryables"), 404)


def test_openapi_describes_the_features_paths(fc):
    paths = fc.get("/api").json()["paths"]
    items_op = paths["/collections/{cid}/items"]["get"]
    names = {p["name"] for p in items_op["parameters"]}
    assert {"cid", "limit", "offset", "bbox", "datetime", "f"} <= names
    assert "/collections/{cid}/items/{fid}" in paths


# ---------------------------------------------------------------- an independent client over real HTTP
def test_owslib_features(features_settings, serve_app, layers):
    from owslib.ogcapi.features import Features

    from app.main import create_app

    url = serve_app(create_app(features_settings.model_copy(update={"jobs_dir": features_settings.jobs_dir.parent / "jobs-live"})))
    api = Features(url)
    assert {"sites", "fires", "points"} <= set(api.feature_collections())
    col = api.collection("sites")
    assert col["id"] == "sites" and col["itemType"] == "feature"
    box = shapely.box(0, 40, 5, 45)
    expected = {fid(f) for f in layers["sites"] if f["geometry"] and shape(f["geometry"]).intersects(box)}
    got = api.collection_items("sites", limit=100, bbox=[0, 40, 5, 45])
    assert {fid(f) for f in got["features"]} == expected and got["numberMatched"] == len(expected)
    page = api.collection_items("sites", limit=4, offset=36)
    assert page["numberReturned"] == 4 and not [ln for ln in page["links"] if ln["rel"] == "next"]
    one = api.collection_item("sites", "site-7")
    assert one["id"] == "site-7" and one["properties"]["name"] == "Site 07"
    assert api.collection_items("fires", datetime_="2022-07-15T12:30:00Z")["numberMatched"] == 4
    with pytest.raises(RuntimeError):
        api.collection_item("sites", "missing")
