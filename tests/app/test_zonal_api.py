"""The zonal-statistics and timeseries processes over HTTP on the demo data: results against
exactextract on the rasters the engine evaluates (the NDVI per date, cloud classes removed), all
output formats read by independent readers, NDJSON streaming, async jobs whose results are a
features collection, the one-click time series, and bad inputs as 400s."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import rasterio
from shapely.geometry import mapping, shape

from processes.engine.evaluate import evaluate
from processes.engine.graph import CollectionNode, parse_node
from processes.zonal.engine import at_date, native_grid
from processes.zonal.request import DEFAULT_DATA, SCL_CLOUDS

from ..zonal.reference import exactextract_stats
from .jobs_util import wait_job

EXEC = "/processes/zonal-statistics/execution"
MAIZE = {"collection": "parcels", "filter": "crop_type = 'maize' AND area_ha > 12"}


def execute(client, inputs, **kw):
    return client.post(EXEC, json={"inputs": inputs, **kw})


@pytest.fixture(scope="module")
def s2(client):
    return client.app.state.services.lookup("sentinel2")


@pytest.fixture(scope="module")
def engine_rasters(client, s2, tmp_path_factory):
    """day -> GeoTIFF of the engine's NDVI on the native grid with SCL clouds set to NaN."""
    d = tmp_path_factory.mktemp("zonal-api")
    grid = native_grid(s2)
    node = parse_node(DEFAULT_DATA, client.app.state.services.resolve)
    out = {}
    for day in sorted({i.datetime[:10] for i in s2.select()}):
        nd, scl = evaluate([at_date(node, day), CollectionNode("sentinel2", ("SCL",), day)], grid, s2_lookup(s2))
        v = np.where(nd.mask & scl.mask & ~np.isin(scl.data[0], SCL_CLOUDS), nd.data[0], np.nan).astype(np.float32)
        path = d / f"{day}.tif"
        with rasterio.open(path, "w", driver="GTiff", width=grid.width, height=grid.height, count=1, dtype="float32",
                           crs=grid.crs, transform=grid.transform, nodata=float("nan")) as ds:
            ds.write(v[None])
        out[day] = str(path)
    return out


def s2_lookup(s2):
    return {"sentinel2": s2}.__getitem__


def parcels(client, cql=None):
    params = {"limit": 1000, **({"filter": cql} if cql else {})}
    return client.get("/collections/parcels/items", params=params).json()["features"]


def test_listed_and_described(client):
    ids = [p["id"] for p in client.get("/processes").json()["processes"]]
    assert {"zonal-statistics", "timeseries"} <= set(ids)
    doc = client.get("/processes/zonal-statistics").json()
    assert {"features", "data", "datetime", "cloud_mask", "statistics", "percentiles", "coverage"} <= set(doc["inputs"])
    assert doc["inputs"]["features"]["minOccurs"] == 1 and "result" in doc["outputs"]


def test_sync_geojson_matches_exactextract(client, engine_rasters):
    # quantiles are compared on continuous data in tests/zonal: the demo's reflectances repeat values, and
    # exactextract orders tied values of different weights arbitrarily (an unstable sort), which moves its quantiles
    r = execute(client, {"features": MAIZE, "statistics": ["mean", "std", "count", "min", "max", "area"]})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    got = {f["id"]: f for f in r.json()["features"]}
    expected = parcels(client, MAIZE["filter"])
    assert sorted(got) == sorted(f["id"] for f in expected) and got
    for day, path in engine_rasters.items():
        for ref in exactextract_stats(path, expected, ["mean", "stdev", "count", "min", "max"], native_grid_crs(client)):
            s = next(x for x in got[ref["fid"]]["properties"]["series"] if x["datetime"] == day)
            assert s["count"] == pytest.approx(ref["count"], rel=1e-6, abs=1e-6)
            if ref["count"] == 0:
                assert s["mean"] is None and s["valid_fraction"] == 0
                continue
            for ours, theirs in (("mean", "mean"), ("std", "stdev"), ("min", "min"), ("max", "max")):
                assert s[ours] == pytest.approx(ref[theirs], rel=1e-5, abs=1e-6), (ref["fid"], day, ours)
    for f in expected:  # the demo's own geodesic areas (rounded to 0.01 ha)
        assert got[f["id"]]["properties"]["area_ha"] == pytest.approx(f["properties"]["area_ha"], abs=0.006)


def native_grid_crs(client):
    return native_grid(client.app.state.services.lookup("sentinel2")).crs


def test_csv_parquet_and_ndjson_agree(client):
    inputs = {"features": MAIZE, "statistics": ["mean", "count"], "datetime": "2022-01-01/2022-12-31"}
    base = execute(client, inputs).json()["features"]
    want = {(f["id"], s["datetime"]): s["mean"] for f in base for s in f["properties"]["series"]}
    assert all(d.startswith("2022") for _, d in want)
    r = execute(client, inputs, outputs={"result": {"format": {"mediaType": "text/csv"}}})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {(row["id"], row["datetime"]): float(row["mean"]) if row["mean"] else None for row in rows} == want
    import geopandas as gpd

    r = client.post(EXEC + "?f=parquet", json={"inputs": inputs})
    df = gpd.read_parquet(io.BytesIO(r.content))
    assert df.crs.to_string() == "OGC:CRS84" and len(df) == len(want)
    got = {(i, d): (None if m is None or np.isnan(m) else m) for i, d, m in zip(df["id"], df["datetime"], df["mean"])}
    assert got == want
    assert shape(base[0]["geometry"]).equals_exact(df[df["id"] == base[0]["id"]].geometry.iloc[0], 1e-9)
    with client.stream("POST", EXEC + "?f=ndjson", json={"inputs": inputs}) as r:
        assert r.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert {(f["id"], s["datetime"]): s["mean"] for f in lines for s in f["properties"]["series"]} == want


def test_async_job_progress_and_features_collection(client):
    r = client.post(EXEC, json={"inputs": {"features": {"collection": "parcels"}, "statistics": ["mean", "count"]}},
                    headers={"Prefer": "respond-async"})
    assert r.status_code == 201, r.text
    st = wait_job(client, r.headers["location"], timeout=120)
    assert st["status"] == "successful" and st["progress"] == 100
    coll = next(ln["href"] for ln in st["links"] if ln["rel"] == "collection")
    cid = coll.rsplit("/", 1)[1]
    assert client.get(coll).json()["itemType"] == "feature"
    items = client.get(f"/collections/{cid}/items", params={"limit": 1000}).json()
    assert items["numberMatched"] == len(parcels(client))
    maize = client.get(f"/collections/{cid}/items", params={"limit": 1000, "filter": "crop_type = 'maize'"}).json()
    assert sorted(f["id"] for f in maize["features"]) == sorted(f["id"] for f in parcels(client, "crop_type = 'maize'"))
    sync = execute(client, {"features": MAIZE, "statistics": ["mean", "count"]}).json()["features"]
    by_id = {f["id"]: f for f in items["features"]}
    assert sync
    for f in sync:  # the same numbers, computed in the job's worker process and in the web worker's pool
        assert by_id[f["id"]]["properties"]["series"] == f["properties"]["series"]


def test_inline_features_and_nbr(client, engine_rasters):
    f = parcels(client)[5]
    g = shape(f["geometry"])
    inline = {"type": "FeatureCollection", "features": [{"type": "Feature", "id": "mine", "geometry": mapping(g),
                                                          "properties": {}}]}
    a = execute(client, {"features": inline, "statistics": ["mean"]}).json()["features"][0]
    b = execute(client, {"features": {"collection": "parcels", "filter": f"id = '{f['id']}'"},
                         "statistics": ["mean"]}).json()["features"][0]
    assert a["properties"]["series"] == b["properties"]["series"]
    nbr = {"process": "normalized_difference", "inputs": {"data": {"collection": "sentinel2"}, "a": "B08", "b": "B12"}}
    c = execute(client, {"features": inline, "data": nbr, "statistics": ["mean"]}).json()["features"][0]
    assert [s["mean"] for s in c["properties"]["series"]] != [s["mean"] for s in a["properties"]["series"]]


def test_timeseries_click(client, engine_rasters):
    f = parcels(client)[7]
    pt = shape(f["geometry"]).representative_point()
    r = client.get("/collections/sentinel2/timeseries", params={"coords": pt.wkt})
    assert r.status_code == 200, r.text
    series = r.json()["features"][0]["properties"]["series"]
    from pyproj import Transformer

    x, y = Transformer.from_crs("OGC:CRS84", native_grid_crs(client), always_xy=True).transform(pt.x, pt.y)
    assert [s["datetime"] for s in series] == sorted(engine_rasters)
    for s in series:
        with rasterio.open(engine_rasters[s["datetime"]]) as ds:
            v = float(next(ds.sample([(x, y)]))[0])
        assert (s["mean"] is None) == np.isnan(v)
        if s["mean"] is not None:
            assert s["mean"] == pytest.approx(v, rel=1e-6) and s["valid_fraction"] == 1
    poly = client.get("/collections/sentinel2/timeseries", params={"coords": shape(f["geometry"]).wkt,
                                                                    "datetime": "2023-01-01/.."}).json()
    assert all(s["datetime"] >= "2023" for s in poly["features"][0]["properties"]["series"])


@pytest.mark.parametrize("inputs,words", [
    ({"features": {"collection": "nowhere"}}, "unknown features collection 'nowhere'"),
    ({"features": MAIZE, "data": {"collection": "nothing"}}, "unknown collection 'nothing'"),
    ({"features": {"collection": "parcels", "filter": "colour = 'red'"}}, "colour"),
    ({"features": {"collection": "parcels", "filter": "crop_type = "}}, "cql2-text"),
    ({"features": MAIZE, "datetime": "2031-01-01/2031-12-31"}, "no scene"),
    ({"features": {"type": "Polygon", "coordinates": [[[4.2, 43.4], [4.3, 43.5], [4.3, 43.4], [4.2, 43.5], [4.2, 43.4]]]}},
     "invalid geometry"),
    ({"features": {"type": "Polygon", "coordinates": []}}, "empty"),
    ({"features": {"type": "Polygon", "coordinates": [[[40, 10], [41, 10], [41, 11], [40, 10]]]}}, "no feature intersects"),
    ({"features": MAIZE, "statistics": ["mode"]}, "statistics"),
    ({"features": MAIZE, "colour": 3}, "colour"),
    ({"features": MAIZE, "data": {"collection": "sentinel2"}}, "one band"),
])
def test_bad_inputs_are_400_naming_the_problem(client, inputs, words):
    r = execute(client, inputs)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert words in r.json()["detail"]


def test_bad_timeseries_queries(client):
    for params, words in (({}, "coords"), ({"coords": "POINT(1"}, "WKT"), ({"coords": "POINT(4.3 43.4)", "band": "B99"}, "B99"),
                          ({"coords": "POINT(4.3 43.4)", "x": "1"}, "x")):
        r = client.get("/collections/sentinel2/timeseries", params=params)
        assert r.status_code == 400 and words in r.json()["detail"], (params, r.text)
    assert client.get("/collections/nothing/timeseries", params={"coords": "POINT(1 1)"}).status_code == 404


def test_empty_selection_is_an_empty_result(client):
    r = execute(client, {"features": {"collection": "parcels", "filter": "crop_type = 'cactus'"}})
    assert r.status_code == 200 and r.json()["features"] == []


def test_sum_ha_is_the_equal_area_hectares_of_a_mask(client):
    """`sum_ha` of a raster that is 1 everywhere is each parcel's geodesic area (the demo's own,
    rounded to 0.01 ha), whatever the projection's scale: cells become ground hectares."""
    one = {"process": "expression", "inputs": {"data": {"collection": "landcover"}, "expression": "landcover * 0 + 1",
                                               "name": "one"}}
    r = execute(client, {"features": MAIZE, "data": one, "statistics": ["sum_ha", "sum", "area"]})
    assert r.status_code == 200, r.text
    expected = {f["id"]: f["properties"]["area_ha"] for f in parcels(client, MAIZE["filter"])}
    got = r.json()["features"]
    assert sorted(f["id"] for f in got) == sorted(expected)
    for f in got:
        (s,) = f["properties"]["series"]
        assert s["sum_ha"] == pytest.approx(expected[f["id"]], abs=0.006)
        assert s["sum"] * 0.01 != pytest.approx(s["sum_ha"], rel=1e-6)  # UTM cells are not exactly 0.01 ha here
