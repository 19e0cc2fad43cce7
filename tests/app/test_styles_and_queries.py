"""Discoverable rendering: styles and their tiles, and the query / request-body models that both
validate requests and write the API definition."""
from __future__ import annotations

import jsonschema
import morecantile
import pytest

from app.queries import MapQuery, names
from processes.ops import REGISTRY
from processes.workflows import WORKFLOWS

S2_TILE = morecantile.tms.get("WebMercatorQuad").tile(4.36, 43.43, 12)


def test_styles_follow_the_bands(client):
    dem = {s["id"] for s in client.get("/collections/dem/styles").json()["styles"]}
    assert {"default", "elevation", "hillshade", "colour-relief", "slope", "aspect"} <= dem
    s2 = {s["id"] for s in client.get("/collections/sentinel2/styles").json()["styles"]}
    assert {"default", "true-colour", "false-colour", "ndvi", "nbr"} <= s2 and "hillshade" not in s2
    coll = client.get("/collections/dem").json()
    assert any(lk["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/styles" for lk in coll["links"])


@pytest.mark.parametrize("cid, sid, z, y, x", [("dem", "hillshade", 3, 2, 4), ("dem", "colour-relief", 3, 2, 4),
                                               ("sentinel2", "ndvi", 12, S2_TILE.y, S2_TILE.x),
                                               ("sentinel2", "false-colour", 12, S2_TILE.y, S2_TILE.x)])
def test_styled_tile_is_the_tile_of_the_style_query(client, cid, sid, z, y, x):
    style = client.get(f"/collections/{cid}/styles/{sid}").json()
    tileset = client.get(f"/collections/{cid}/styles/{sid}/map/tiles/WebMercatorQuad").json()
    assert tileset["style"]["id"] == sid
    item = next(lk for lk in tileset["links"] if lk["rel"] == "item" and lk["type"] == "image/png")
    styled = client.get(item["href"].replace("http://testserver", "").format(tileMatrix=z, tileRow=y, tileCol=x))
    plain = client.get(f"/collections/{cid}/map/tiles/WebMercatorQuad/{z}/{y}/{x}", params=style["parameters"])
    assert styled.status_code == plain.status_code == 200
    assert styled.content == plain.content
    default = client.get(f"/collections/{cid}/map/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert styled.content != default.content


def test_style_errors(client):
    assert client.get("/collections/dem/styles/ndvi").status_code == 404
    assert client.get("/collections/parcels/styles").status_code == 404
    r = client.get("/collections/dem/styles/hillshade/map/tiles/WebMercatorQuad/1/0/0?algorithm=slope")
    assert r.status_code == 400
    tj = client.get("/collections/dem/styles/slope/map/tiles/WebMercatorQuad/tilejson.json").json()
    assert "/styles/slope/map/tiles/WebMercatorQuad/{z}/{y}/{x}" in tj["tiles"][0]


def test_api_lists_the_tile_query_model_and_algorithm_parameters(client):
    api = client.get("/api").json()
    for path in ("/collections/{cid}/map/tiles/{tms}/{z}/{y}/{x}", "/collections/{cid}/styles/{sid}/map/tiles/{tms}/{z}/{y}/{x}"):
        params_here = {p["name"] for p in api["paths"][path]["get"]["parameters"] if p["in"] == "query"}
        assert names(MapQuery) <= params_here
        assert {"azimuth", "altitude", "z_factor", "a", "b"} <= params_here  # algorithm parameters
        assert {"filter", "filter-lang", "mosaic", "datetime", "bands"} <= params_here
    params = {p["name"]: p for p in api["paths"]["/collections/{cid}/map/tiles/{tms}/{z}/{y}/{x}"]["get"]["parameters"]}
    assert params["blend"]["schema"]["maximum"] == 1 and "hillshade" in params["algorithm"]["schema"]["enum"]
    assert params["z_factor"]["x-algorithms"] == ["hillshade", "slope"]


@pytest.mark.parametrize("query, name", [("blend=2&algorithm=hillshade", "blend"), ("rescale=1", "rescale"),
                                         ("rescale=5,5", "rescale"), ("blend=0.5", "blend"), ("f=gif", "f")])
def test_tile_query_errors_name_the_parameter(client, query, name):
    r = client.get(f"/collections/dem/map/tiles/WebMercatorQuad/1/0/0?{query}")
    assert r.status_code in (400, 406), r.text
    if r.status_code == 400:
        assert name in r.json()["detail"]


def test_api_lists_an_execution_request_schema_per_process_that_accepts_real_requests(client):
    api = client.get("/api").json()
    body = api["paths"]["/processes/{pid}/execution"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert len(body["oneOf"]) == len(REGISTRY) + len(WORKFLOWS)
    fire = api["components"]["schemas"]["execute-burn-severity"]
    assert {"year", "season", "bbox"} <= set(fire["properties"]["inputs"]["properties"])
    jsonschema.validate({"inputs": {"year": 2023, "season": "09-01/10-31"}}, fire)
    schema = api["components"]["schemas"]["execute-hillshade"]
    assert {"azimuth", "bbox", "data"} <= set(schema["properties"]["inputs"]["properties"])
    good = {"inputs": {"data": {"collection": "dem"}, "azimuth": 200, "bbox": [0, 40, 1, 41], "width": 16},
            "outputs": {"statistics": {}}, "response": "document"}
    jsonschema.validate(good, schema)
    assert client.post("/processes/hillshade/execution", json=good).status_code == 200
    bad = {**good, "mode": "sync"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    r = client.post("/processes/hillshade/execution", json=bad)
    assert r.status_code == 400 and r.json()["detail"].startswith("hillshade.mode")
