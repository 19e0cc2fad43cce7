"""`image.zonal_statistics(features, ...)` against a real server: the request it sends is the hand-written
`zonal-statistics` execution, its rows are that execution's numbers (sync, streamed, or as a job when
the sync budget refuses it), and the table is a GeoDataFrame, a DataFrame or rows as installed."""
from __future__ import annotations

import json
import sys

import geopandas as gpd
import httpx
import pandas as pd
import pytest

from app.main import create_app
from geodeferred_client import InvalidRequest, Service

SUMMER = "2022-05-01/2022-07-31"
MAIZE = "crop_type = 'maize'"


def sent_bodies(url: str) -> tuple[Service, list[dict]]:
    """A client whose requests' JSON bodies are recorded as httpx sends them."""
    sent: list[dict] = []

    def record(request: httpx.Request) -> None:
        if request.method == "POST":
            sent.append(json.loads(request.read()))

    return Service(url, client=httpx.Client(timeout=300, event_hooks={"request": [record]})), sent


def hand_request(url: str, **extra) -> dict:
    ndvi = {"process": "normalized_difference", "inputs": {
        "data": {"collection": f"{url}/collections/sentinel2"}, "a": "B08", "b": "B04", "name": "ndvi"}}
    return {"inputs": {"data": ndvi, "features": {"collection": f"{url}/collections/parcels", "filter": MAIZE,
                                                  "filter-lang": "cql2-text"},
                       "statistics": ["mean", "count"], "datetime": SUMMER, **extra}}


def expected_rows(features: list[dict]) -> list[tuple]:
    """(id, datetime, mean, count, valid_fraction) of every feature and date, from the GeoJSON answer."""
    out = [(f["id"], s["datetime"], s["mean"], s["count"], s["valid_fraction"])
           for f in features for s in f["properties"]["series"]]
    return sorted(out, key=lambda r: (r[0], r[1]))


def frame_rows(df: pd.DataFrame) -> list[tuple]:
    out = [(r.id, r.datetime.strftime("%Y-%m-%d"), None if pd.isna(r.mean) else r.mean,
            None if pd.isna(r.count) else r.count, r.valid_fraction) for r in df.itertuples()]
    return sorted(out, key=lambda r: (r[0], r[1]))


def ndvi_of(svc: Service):
    return svc.collection("sentinel2").normalized_difference(a="B08", b="B04", name="ndvi")


@pytest.fixture(scope="module")
def by_hand(client, live_server) -> list[dict]:
    r = httpx.post(f"{live_server.url}/processes/zonal-statistics/execution", json=hand_request(live_server.url),
                   timeout=300)
    assert r.status_code == 200, r.text
    features = r.json()["features"]
    assert features and all(f["properties"]["crop_type"] == "maize" for f in features)
    return features


@pytest.fixture(scope="module")
def svc_url_pair(client, live_server) -> tuple[Service, str]:
    return Service(live_server.url), live_server.url


def test_request_and_numbers_equal_the_hand_written_execution(live_server, by_hand):
    svc, sent = sent_bodies(live_server.url)
    maize = svc.features("parcels").filter(MAIZE)
    df = ndvi_of(svc).zonal_statistics(maize, statistics=["mean", "count"], datetime=SUMMER)
    assert sent == [hand_request(live_server.url)]
    assert isinstance(df, gpd.GeoDataFrame) and df.crs.to_string() == "OGC:CRS84"
    assert frame_rows(df) == expected_rows(by_hand)
    assert len(df) == sum(len(f["properties"]["series"]) for f in by_hand)  # one row per feature and date
    assert set(df.crop_type) == {"maize"} and "area_ha" in df
    first = by_hand[0]
    assert df[df.id == first["id"]].geometry.iloc[0].equals(gpd.GeoDataFrame.from_features([first]).geometry.iloc[0])


def test_inline_geojson_gives_the_same_numbers(svc_url_pair, by_hand):
    svc, url = svc_url_pair
    assert svc.features("parcels").queryables == httpx.get(f"{url}/collections/parcels/queryables",
                                                           timeout=30).json()["properties"]
    inline = svc.features("parcels").filter(MAIZE).get()
    df = ndvi_of(svc).zonal_statistics(inline, statistics=["mean", "count"], datetime=SUMMER)
    assert frame_rows(df) == expected_rows(by_hand)


def test_stream_yields_the_ndjson_rows(live_server, by_hand):
    svc, sent = sent_bodies(live_server.url)
    rows = ndvi_of(svc).zonal_statistics(svc.features("parcels").filter(MAIZE), statistics=["mean", "count"],
                                         datetime=SUMMER, stream=True)
    assert sent == []  # a generator: nothing is sent before the first row is asked for
    first = next(rows)
    assert sent == [hand_request(live_server.url) | {"outputs": {"result": {"format": {
        "mediaType": "application/x-ndjson"}}}}]
    got = sorted([(r["id"], r["datetime"], r["mean"], r["count"], r["valid_fraction"]) for r in [first, *rows]],
                 key=lambda r: (r[0], r[1]))
    assert got == expected_rows(by_hand)


def test_over_the_sync_budget_it_runs_as_a_job(client, settings, serve_app, tmp_path, by_hand):
    small = settings.model_copy(update={"jobs_dir": tmp_path / "jobs", "max_sync_zonal_pixels": 1000})
    url = serve_app(create_app(small))
    raw = httpx.post(f"{url}/processes/zonal-statistics/execution", json=hand_request(url), timeout=60)
    assert raw.status_code == 400 and raw.json()["type"].endswith("pixel-budget-exceeded")
    svc, sent = sent_bodies(url)
    maize = svc.features("parcels").filter(MAIZE)
    df = ndvi_of(svc).zonal_statistics(maize, statistics=["mean", "count"], datetime=SUMMER)
    assert sent == [hand_request(url)] * 2  # refused sync, then the same request as a job
    assert frame_rows(df) == expected_rows(by_hand)
    with pytest.raises(InvalidRequest, match="pixel"):
        ndvi_of(svc).zonal_statistics(maize, statistics=["mean"], datetime=SUMMER, job=False)
    jobs_before = len(httpx.get(f"{url}/jobs", timeout=30).json()["jobs"])
    df2 = ndvi_of(Service(url)).zonal_statistics(maize, statistics=["mean", "count"], datetime=SUMMER, job=True)
    assert frame_rows(df2) == expected_rows(by_hand)
    assert len(httpx.get(f"{url}/jobs", timeout=30).json()["jobs"]) == jobs_before + 1


def test_without_geopandas_a_dataframe_without_pandas_rows(svc_url_pair, by_hand, monkeypatch):
    svc, _ = svc_url_pair
    maize = svc.features("parcels").filter(MAIZE)
    monkeypatch.setitem(sys.modules, "geopandas", None)  # import geopandas -> ImportError
    df = ndvi_of(svc).zonal_statistics(maize, statistics=["mean", "count"], datetime=SUMMER)
    assert type(df) is pd.DataFrame and "geometry" not in df and frame_rows(df) == expected_rows(by_hand)
    monkeypatch.setitem(sys.modules, "pandas", None)
    rows = ndvi_of(svc).zonal_statistics(maize, statistics=["mean", "count"], datetime=SUMMER)
    assert isinstance(rows, list) and isinstance(rows[0], dict)
    got = sorted([(r["id"], r["datetime"], r["mean"], r["count"], r["valid_fraction"]) for r in rows],
                 key=lambda r: (r[0], r[1]))
    assert got == expected_rows(by_hand)


def test_errors_carry_the_server_detail(svc_url_pair):
    svc, url = svc_url_pair
    three_bands = svc.collection("sentinel2").filter_date("2022-06-01", "2022-06-30").composite(bands=["B04", "B03", "B02"])
    body = {"inputs": {"data": three_bands.to_dict(), "features": {"collection": f"{url}/collections/parcels"}}}
    raw = httpx.post(f"{url}/processes/zonal-statistics/execution", json=body, timeout=60).json()
    with pytest.raises(InvalidRequest) as e:
        three_bands.zonal_statistics(svc.features("parcels"))
    assert (e.value.status, e.value.detail) == (400, raw["detail"]) and "one band" in e.value.detail
    with pytest.raises(InvalidRequest, match="no_such_property"):
        next(ndvi_of(svc).zonal_statistics(svc.features("parcels").filter("no_such_property = 1"), stream=True))
    with pytest.raises(TypeError, match="features"):
        three_bands.zonal_statistics("parcels")
