"""OGC API - Features Part 3: CQL2 `filter` on /items (text and JSON) against Python predicates
over the fixture layers, with paging, bbox and property filters combined; queryables; conformance."""
from __future__ import annotations

import json

import pytest
from shapely.geometry import box, shape

from .features_fixtures import (  # noqa: F401  (fixtures are used by name)
    assert_problem,
    all_ids,
    fc,
    features_settings,
    fid,
    items,
    layers,
    next_href,
)

F3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
CASES = [
    ("kind = 'forest' AND area > 100", lambda p, g: p["kind"] == "forest" and p["area"] > 100),
    ("kind IN ('dune', 'wetland') OR rank = 4", lambda p, g: p["kind"] in ("dune", "wetland") or p["rank"] == 4),
    ("established < DATE('2011-01-01')", lambda p, g: "established" in p and p["established"] < "2011-01-01"),
    ("name LIKE 'Site 1%'", lambda p, g: p["name"].startswith("Site 1")),
    ("S_INTERSECTS(geometry, BBOX(2, 42, 6, 48)) AND NOT kind = 'dune'",
     lambda p, g: g is not None and shape(g).intersects(box(2, 42, 6, 48)) and p["kind"] != "dune"),
]


def expected(layers, pred):
    return sorted(fid(f) for f in layers["sites"] if pred(f["properties"], f["geometry"]))


@pytest.mark.parametrize("text,pred", CASES, ids=[c[0] for c in CASES])
def test_cql2_text_and_json(fc, layers, text, pred):
    want = expected(layers, pred)
    assert want
    assert sorted(all_ids(fc, "sites", filter=text)) == want
    assert sorted(all_ids(fc, "sites", filter=text, **{"filter-lang": "cql2-text"})) == want
    from processes.filters import parse_filter
    as_json = json.dumps(parse_filter(text).to_json())
    assert sorted(all_ids(fc, "sites", filter=as_json, **{"filter-lang": "cql2-json"})) == want


def test_filter_with_paging_bbox_and_property_filters(fc, layers):
    text = "area > 50"
    want = sorted(fid(f) for f in layers["sites"] if f["properties"]["area"] > 50 and f["properties"]["rank"] == 2
                  and f["geometry"] and shape(f["geometry"]).intersects(box(0, 40, 5, 50)))
    assert want
    seen = []
    doc = items(fc, "sites", filter=text, rank=2, bbox="0,40,5,50", limit=2)
    while True:
        assert doc["numberMatched"] == len(want)
        seen += [fid(f) for f in doc["features"]]
        href = next_href(doc)
        if href is None:
            break
        assert "filter=" in href
        doc = fc.get(href).json()
    assert sorted(seen) == want


def test_unknown_property_and_syntax_name_the_problem(fc):
    body = assert_problem(fc.get("/collections/sites/items", params={"filter": "colour = 'red'"}), 400)
    assert "colour" in body["detail"]
    body = assert_problem(fc.get("/collections/sites/items", params={"filter": "kind = "}), 400)
    assert "cql2-text" in body["detail"]


def test_conformance_and_queryables(fc):
    conforms = fc.get("/conformance").json()["conformsTo"]
    for c in ("filter", "features-filter", "queryables"):
        assert F3 + c in conforms
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text" in conforms
    props = fc.get("/collections/sites/queryables").json()["properties"]
    assert {"kind", "area", "rank"} <= set(props)
