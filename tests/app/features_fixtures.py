"""Fixture data and helpers of the Features tests: small GeoJSON layers and a catalog of their own."""
from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest
from starlette.testclient import TestClient

GEOJSON = "application/geo+json"
F1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
N_SITES, N_FIRES, N_POINTS = 40, 12, 1203


# ---------------------------------------------------------------- fixture data
def _square(x: float, y: float, half: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x - half, y - half], [x + half, y - half], [x + half, y + half],
                                                [x - half, y + half], [x - half, y - half]]]}


def _sites() -> list[dict[str, Any]]:
    rnd = random.Random(42)
    dates = ["1998-05-01", "2005-06-30", "2010-01-01", "2012-03-15", "2015-06-01", "2018-09-09", "2021-12-31"]
    out = []
    for i in range(N_SITES):
        x, y = rnd.uniform(0, 10), rnd.uniform(40, 50)
        geom = _square(x, y, rnd.uniform(0.05, 0.6)) if i % 3 else {"type": "Point", "coordinates": [x, y]}
        props = {"id": f"site-{i}", "name": f"Site {i:02d}", "kind": ["forest", "wetland", "dune"][i % 3],
                 "area": round(rnd.uniform(1, 500), 2), "rank": i % 5, "established": dates[i % len(dates)]}
        out.append({"type": "Feature", "id": f"site-{i}", "geometry": geom, "properties": props})
    out[36]["geometry"] = {"type": "Point", "coordinates": [179.6, 0.0]}   # both sides of the antimeridian
    out[37]["geometry"] = {"type": "Point", "coordinates": [-179.6, 0.5]}
    out[38]["geometry"] = None                                              # no geometry at all
    del out[39]["properties"]["established"]                                # no time value
    return out


def _fires() -> list[dict[str, Any]]:
    times = ["2022-07-15T12:30:00Z", "2022-07-15T14:30:00+02:00", "2022-07-15T23:59:00Z", "2022-07-16T00:00:00Z",
             "2022-08-01T09:00:00Z", "2023-06-20T10:00:00Z"]
    return [{"type": "Feature", "geometry": _square(2 + i * 0.5, 45, 0.3),
             "properties": {"fire_id": f"F{i:03d}", "datetime": times[i % len(times)], "burned_ha": 10.0 * i}}
            for i in range(N_FIRES)]


def _points() -> list[dict[str, Any]]:
    return [{"type": "Feature", "id": i, "geometry": {"type": "Point", "coordinates": [i % 100 / 10, i // 100 / 10]},
             "properties": {"n": i}} for i in range(N_POINTS)]


CATALOG = """
collections:
  sites:
    type: features
    title: Test sites
    description: Sites for the Features tests.
    keywords: [test, sites]
    href: sites.geojson
    id_field: id
    time_field: established
  fires:
    type: features
    title: Test fires
    href: fires.geojson
    id_field: fire_id
    time_field: datetime
  points:
    type: features
    title: Many points
    href: points.geojson
"""


@pytest.fixture(scope="module")
def layers() -> dict[str, list[dict[str, Any]]]:
    return {"sites": _sites(), "fires": _fires(), "points": _points()}


@pytest.fixture(scope="module")
def features_settings(tmp_path_factory, layers):
    from app.settings import Settings

    root = tmp_path_factory.mktemp("features")
    data = root / "data"
    data.mkdir()
    for name, feats in layers.items():
        (data / f"{name}.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    (root / "catalog.yaml").write_text(CATALOG)
    return Settings(catalog=root / "catalog.yaml", data_dir=data, jobs_dir=root / "jobs", build_demo_data=False,
                    executor="inline")


@pytest.fixture(scope="module")
def fc(features_settings) -> Iterator[TestClient]:
    from app.main import create_app

    with TestClient(create_app(features_settings)) as c:
        yield c


# ---------------------------------------------------------------- helpers
def items(fc: TestClient, cid: str, **params: Any) -> dict[str, Any]:
    r = fc.get(f"/collections/{cid}/items", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == GEOJSON
    doc = r.json()
    assert doc["type"] == "FeatureCollection"
    assert doc["numberReturned"] == len(doc["features"])
    return doc


def all_ids(fc: TestClient, cid: str, **params: Any) -> list[str]:
    doc = items(fc, cid, limit=1000, **params)
    assert doc["numberMatched"] == doc["numberReturned"]
    return [str(f["id"]) for f in doc["features"]]


def next_href(doc: dict[str, Any]) -> str | None:
    hrefs = [ln["href"] for ln in doc["links"] if ln["rel"] == "next"]
    assert len(hrefs) <= 1
    return hrefs[0] if hrefs else None


def assert_problem(r, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert body["status"] == status and body["type"].startswith("http")
    assert body["detail"] and "Traceback" not in body["detail"]
    return body


def fid(f: dict[str, Any]) -> str:
    return str(f["id"])


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
