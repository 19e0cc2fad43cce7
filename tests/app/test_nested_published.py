"""Published (deployed, OGC API - Processes Part 2) workflows nested inside other workflows, by id, like
built-in processes: in an execution, in a deferred collection's tiles and in another published
workflow they compute what the inline graph computes; unknown ids and inputs are 400s naming them."""
from __future__ import annotations

import numpy as np
import pytest
from starlette.testclient import TestClient

from app.main import create_app
from processes.outputs import read_geotiff_bytes

BBOX = [0, 40, 20, 50]
TILE = "/map/tiles/WebMercatorQuad/3/2/4"


def package(pid: str, workflow: dict, defaults: dict) -> dict:
    return {"processDescription": {"id": pid, "title": pid,
                                   "inputs": {k: {"schema": {"default": v}} for k, v in defaults.items()}},
            "executionUnit": {"value": workflow, "mediaType": "application/ogcexec+json"}}


def relief(z_factor: float) -> dict:
    return {"process": "hillshade", "inputs": {"data": {"collection": "dem"}, "azimuth": {"$input": "azimuth"},
                                               "z_factor": z_factor}}


def inline_relief(azimuth: float, z_factor: float = 30) -> dict:
    return {"process": "hillshade", "inputs": {"data": {"collection": "dem"}, "azimuth": azimuth, "z_factor": z_factor}}


def halved(data: dict) -> dict:
    return {"process": "expression", "inputs": {"data": data, "expression": "b1 / 2", "name": "half"}}


@pytest.fixture
def api(client, settings, tmp_path):
    """An app on the session's demo data with its own (empty) store of published processes."""
    with TestClient(create_app(settings.model_copy(update={"jobs_dir": tmp_path / "jobs"}))) as c:
        r = c.post("/processes", json=package("relief", relief(30), {"azimuth": 315}))
        assert r.status_code == 201, r.text
        yield c


def pixels(api, workflow: dict) -> np.ndarray:
    r = api.post(f"/processes/{workflow['process']}/execution",
                 json={"inputs": workflow["inputs"] | {"bbox": BBOX, "width": 96}})
    assert r.status_code == 200, r.text
    return read_geotiff_bytes(r.content)[0]


def deferred(api, workflow: dict) -> str:
    r = api.post(f"/processes/{workflow['process']}/execution?response=collection",
                 json={"inputs": workflow["inputs"]}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"].removeprefix("http://testserver")


def test_nested_in_an_execution_equals_the_inline_graph(api):
    nested = halved({"process": "relief", "inputs": {"azimuth": 90}})
    got = pixels(api, nested)
    assert np.array_equal(got, pixels(api, halved(inline_relief(90))), equal_nan=True)
    assert not np.array_equal(got, pixels(api, halved(inline_relief(315))), equal_nan=True)
    # by URL as well as by id, and with its defaults when no input is given
    by_url = halved({"process": "http://testserver/processes/relief", "inputs": {}})
    assert np.array_equal(pixels(api, by_url), pixels(api, halved(inline_relief(315))), equal_nan=True)
    # as a job too: the job request holds the expanded graph
    r = api.post("/processes/expression/execution", headers={"Prefer": "respond-async"},
                 json={"inputs": nested["inputs"] | {"bbox": BBOX, "width": 96}})
    assert r.status_code == 201, r.text
    from .jobs_util import wait_job

    assert wait_job(api, r.headers["Location"], timeout=120)["status"] == "successful"
    job_pixels = read_geotiff_bytes(api.get(r.headers["Location"] + "/results/result").content)[0]
    assert np.array_equal(job_pixels, got, equal_nan=True)


def test_nested_in_a_tile_request_equals_the_inline_graph(api):
    nested = deferred(api, halved({"process": "relief", "inputs": {"azimuth": 90}}))
    inline = deferred(api, halved(inline_relief(90)))
    assert nested == inline  # the same graph once expanded: the same deferred collection
    tile = api.get(nested + TILE)
    assert tile.status_code == 200 and tile.content == api.get(inline + TILE).content
    assert tile.content != api.get(deferred(api, halved(inline_relief(315))) + TILE).content


def test_published_in_a_published_workflow_follows_a_replace(api):
    outer = halved({"process": "relief", "inputs": {"azimuth": {"$input": "light"}}})
    r = api.post("/processes", json=package("half-relief", outer, {"light": 200}))
    assert r.status_code == 201, r.text
    tile = api.get("/collections/half-relief" + TILE)
    assert tile.status_code == 200
    assert tile.content == api.get(deferred(api, halved(inline_relief(200))) + TILE).content
    assert np.array_equal(pixels(api, {"process": "half-relief", "inputs": {"light": 45}}),
                          pixels(api, halved(inline_relief(45))), equal_nan=True)
    # the inner process replaced: the outer one computes the new graph at once (no stale cache)
    assert api.put("/processes/relief", json=package("relief", relief(5), {"azimuth": 315})).status_code == 204
    after = api.get("/collections/half-relief" + TILE)
    assert after.content == api.get(deferred(api, halved(inline_relief(200, 5))) + TILE).content
    assert after.content != tile.content


def test_unknown_nested_ids_and_inputs_are_400_naming_them(api):
    r = api.post("/processes/expression/execution", json={"inputs": halved(
        {"process": "no-such-published", "inputs": {}})["inputs"] | {"bbox": BBOX, "width": 8}})
    assert r.status_code == 400, r.text
    assert "no-such-published" in r.json()["detail"] and "expression.inputs.data" in r.json()["detail"]
    r = api.post("/processes/expression/execution?response=collection", follow_redirects=False,
                 json={"inputs": halved({"process": "relief", "inputs": {"azimut": 3}})["inputs"]})
    assert r.status_code == 400 and "azimut" in r.json()["detail"] and "expression.inputs.data" in r.json()["detail"]
    r = api.post("/processes/expression/execution", json={"inputs": halved(
        {"process": "relief", "inputs": {"azimuth": 999}})["inputs"] | {"bbox": BBOX, "width": 8}})
    assert r.status_code == 400 and "azimuth" in r.json()["detail"]
    r = api.post("/processes", json=package("bad", halved({"process": "nobody", "inputs": {}}), {}))
    assert r.status_code == 400 and "nobody" in r.json()["detail"]


def test_published_processes_nesting_each_other_are_a_400(api):
    assert api.post("/processes", json=package("outer", halved({"process": "relief", "inputs": {}}), {})).status_code == 201
    # relief replaced by a workflow nesting outer, which nests relief: valid when checked (outer
    # nested the old relief), a cycle since
    cycle = package("relief", halved({"process": "outer", "inputs": {}}), {})
    assert api.put("/processes/relief", json=cycle).status_code == 204
    r = api.post("/processes/outer/execution", json={"inputs": {"bbox": BBOX, "width": 8}})
    assert r.status_code == 400 and "nesting each other" in r.json()["detail"]
    assert api.get("/collections/outer" + TILE).status_code == 400


def test_nested_in_an_analysis_equals_the_inline_graph(api):
    """Zonal statistics of a published workflow by id: the numbers of its inline graph."""
    ndvi = {"process": "normalized_difference", "inputs": {"data": {"collection": "sentinel2"}, "a": {"$input": "nir"},
                                                           "b": "B04", "name": "ndvi"}}
    assert api.post("/processes", json=package("my-ndvi", ndvi, {"nir": "B08"})).status_code == 201
    inline = {"process": "normalized_difference", "inputs": {"data": {"collection": "sentinel2"}, "a": "B08", "b": "B04",
                                                             "name": "ndvi"}}
    common = {"features": {"collection": "parcels", "filter": "crop_type = 'maize'"}, "statistics": ["mean", "count"],
              "datetime": "2022-06-01/2022-07-31"}
    answers = [api.post("/processes/zonal-statistics/execution", json={"inputs": common | {"data": data}})
               for data in ({"process": "my-ndvi", "inputs": {}}, inline)]
    assert [r.status_code for r in answers] == [200, 200], answers[0].text
    by_id, by_graph = (sorted(r.json()["features"], key=lambda f: f["id"]) for r in answers)
    assert by_id == by_graph and by_id and by_id[0]["properties"]["series"]
    r = api.post("/processes/zonal-statistics/execution",
                 json={"inputs": common | {"data": {"process": "no-such-published", "inputs": {}}}})
    assert r.status_code == 400 and "no-such-published" in r.json()["detail"]
