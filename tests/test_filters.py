"""processes.filters: CQL2 text and JSON against plain Python predicates over the same features."""
from __future__ import annotations

import pickle
import random

import pytest
import shapely
from shapely.geometry import box, mapping

from processes.filters import FilterError, parse_filter

random.seed(3)
CROPS = ["maize", "wheat", "barley", "Sunflower", None]
FEATURES = []
for i in range(300):
    x, y = random.uniform(0, 10), random.uniform(0, 10)
    props = {"id": f"p{i}", "crop_type": random.choice(CROPS), "area_ha": round(random.uniform(0, 8), 2),
             "sown": f"2023-0{random.randint(1, 9)}-1{random.randint(0, 9)}"}
    if i % 7 == 0:
        props.pop("area_ha")
    FEATURES.append((props, mapping(box(x, y, x + 0.5, y + 0.5))))

CASES = [
    ("crop_type = 'maize' AND area_ha > 2",
     lambda p, g: p.get("crop_type") == "maize" and p.get("area_ha") is not None and p["area_ha"] > 2),
    ("crop_type IN ('wheat', 'barley') OR area_ha < 1",
     lambda p, g: p.get("crop_type") in ("wheat", "barley") or (p.get("area_ha") is not None and p["area_ha"] < 1)),
    ("area_ha BETWEEN 2 AND 3", lambda p, g: p.get("area_ha") is not None and 2 <= p["area_ha"] <= 3),
    ("crop_type IS NULL", lambda p, g: p.get("crop_type") is None),
    ("crop_type LIKE 'S%'", lambda p, g: (p.get("crop_type") or "").startswith("S")),
    ("CASEI(crop_type) = casei('SUNFLOWER')", lambda p, g: (p.get("crop_type") or "").lower() == "sunflower"),
    ("NOT (crop_type = 'maize')", lambda p, g: p.get("crop_type") is not None and p["crop_type"] != "maize"),
    ("sown > DATE('2023-05-15')", lambda p, g: p["sown"] > "2023-05-15"),
    ("S_INTERSECTS(geometry, BBOX(2, 2, 5, 5))", lambda p, g: shapely.geometry.shape(g).intersects(box(2, 2, 5, 5))),
    ("S_WITHIN(geometry, POLYGON((0 0, 6 0, 6 6, 0 6, 0 0))) AND area_ha >= 4",
     lambda p, g: shapely.geometry.shape(g).within(box(0, 0, 6, 6)) and p.get("area_ha") is not None and p["area_ha"] >= 4),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0] for c in CASES])
def test_text_and_json_match_python(text, expected):
    f = parse_filter(text)
    want = [p["id"] for p, g in FEATURES if expected(p, g)]
    assert want, "the case must select something"
    assert [p["id"] for p, g in FEATURES if f.matches(p, g)] == want
    via_json = parse_filter(f.to_json())  # cql2-json object
    assert [p["id"] for p, g in FEATURES if via_json.matches(p, g)] == want
    import json
    assert parse_filter(json.dumps(f.to_json()), "cql2-json") == f


def test_properties_and_pickle():
    f = parse_filter("crop_type = 'maize' AND S_INTERSECTS(geometry, POINT(1 2)) AND area_ha / 2 > 1")
    assert f.properties == {"crop_type", "geometry", "area_ha"}
    g = pickle.loads(pickle.dumps(f))
    assert g == f and hash(g) == hash(f)
    p, geom = FEATURES[0]
    assert g.matches(p, geom) == f.matches(p, geom)


@pytest.mark.parametrize("value,lang,words", [
    ("crop_type = ", None, "invalid cql2-text"),
    ("", None, "empty"),
    ("foo(crop_type) = 1", None, "unknown CQL2 function"),
    ({"op": "=", "args": [1]}, None, "invalid cql2-json"),
    ("{", "cql2-json", "invalid cql2-json"),
    ("a = 1", "sql", "filter-lang"),
    (3, None, "cql2-text string or a cql2-json object"),
    ({"op": "=", "args": [{"property": "a"}, 1]}, "cql2-text", "must be a string"),
])
def test_bad_filters(value, lang, words):
    with pytest.raises(FilterError, match=words):
        parse_filter(value, lang)
    assert issubclass(FilterError, ValueError)
