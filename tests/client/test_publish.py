"""Sharing workflows (OGC API - Processes Part 2 with a Part 3 workflow): deploy, describe, execute with
other inputs, open as a collection, replace, undeploy; durable across restarts; bad packages refused."""
from __future__ import annotations

import inspect

import httpx
import numpy as np
import pytest

from app.main import create_app
from geodeferred_client import ConflictError, NotSupported, Service

BBOX = [0, 40, 20, 50]
P2 = "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/"


@pytest.fixture
def own_server(client, settings, serve_app, tmp_path):
    """A server on the session's demo data with its own (empty) process store; start() again = a restart."""
    def start() -> str:
        return serve_app(create_app(settings.model_copy(update={"jobs_dir": tmp_path / "jobs"})))
    return start


def package(pid: str, workflow: dict, inputs: dict) -> dict:
    return {"processDescription": {"id": pid, "title": pid, "inputs": inputs},
            "executionUnit": {"value": workflow, "mediaType": "application/ogcexec+json"}}


def test_publish_execute_with_own_inputs_and_open_as_collection(own_server):
    url = own_server()
    svc = Service(url)
    relief = svc.collection("dem").hillshade(azimuth=315, z_factor=30)
    shared = relief.publish("relief", title="Shaded relief", description="Hillshade of the DEM",
                            params={"azimuth": "Light direction", "z_factor": "Exaggeration"})
    assert shared.id == "relief"
    conf = httpx.get(f"{url}/conformance", timeout=30).json()["conformsTo"]
    assert P2 + "deploy-replace-undeploy" in conf and P2 + "ogcapppkg" in conf
    desc = httpx.get(f"{url}/processes/relief", timeout=30).json()
    assert desc["title"] == "Shaded relief" and desc["inputs"]["azimuth"]["schema"]["default"] == 315
    assert desc["inputs"]["azimuth"]["schema"]["maximum"] == 360  # the hillshade parameter's own schema
    assert desc["inputs"]["z_factor"]["description"] == "Exaggeration"
    assert "relief" in [p["id"] for p in httpx.get(f"{url}/processes", timeout=30).json()["processes"]]

    # another user executes it with their own inputs: the same pixels as the workflow built by hand
    other = Service(url)
    mine = other.processes.relief(azimuth=90).compute(bbox=BBOX, width=96)
    by_hand = other.collection("dem").hillshade(azimuth=90, z_factor=30).compute(bbox=BBOX, width=96)
    assert np.array_equal(mine, by_hand, equal_nan=True)
    assert not np.array_equal(mine, relief.compute(bbox=BBOX, width=96), equal_nan=True)
    # ...and opens it as a named collection: its tiles and coverage are the defaults' workflow
    assert "relief" in other.collections()
    tile = httpx.get(other.collection("relief").tile_layer().url.format(z=3, y=2, x=4), timeout=60)
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"
    assert np.array_equal(other.collection("relief").compute(bbox=BBOX, width=64, height=32),
                          relief.compute(bbox=BBOX, width=64, height=32), equal_nan=True)
    # a process deployed on the server (here by another user) is a method of images of a client made
    # before: it has a raster input placeholder, so images whose class predates it find it on first use
    early = Service(url).collection("dem")
    assert "km_above" not in dir(early)
    ndvi_like = svc.collection("dem").expression(expression="elevation / 1000", name="km")
    ndvi_like.publish("km-above", params=["data"])
    assert early.km_above().to_dict() == {"process": "km-above", "inputs": {"data": early.to_dict()}}
    assert list(inspect.signature(early.km_above).parameters) == []  # its only input is the image itself
    assert "km_above" in dir(early) and "km_above" in dir(Service(url).collection("dem"))
    nested = Service(url).collection("dem").km_above() > 1
    assert nested.to_dict()["inputs"]["data"] == {"process": "km-above", "inputs": {"data": early.to_dict()}}
    inline = svc.collection("dem").expression(expression="elevation / 1000", name="km") > 1  # what it stands for
    got = nested.compute(bbox=BBOX, width=16)  # the server expands the published process nested by id
    assert got.shape == (1, 8, 16) and np.array_equal(got, inline.compute(bbox=BBOX, width=16), equal_nan=True)
    assert np.nanmax(got) == 1 and np.nanmin(got) == 0


def test_replace_undeploy_errors_and_restart(own_server):
    url = own_server()
    wf = {"process": "hillshade", "inputs": {"data": {"collection": "dem"}, "azimuth": {"$input": "azimuth"}}}
    ok = package("shade", wf, {"azimuth": {"schema": {"default": 200}}})
    assert httpx.post(f"{url}/processes", json=ok, timeout=30).status_code == 201
    again = httpx.post(f"{url}/processes", json=ok, timeout=30)
    assert again.status_code == 409 and again.json()["type"].endswith("duplicated-process")
    assert httpx.post(f"{url}/processes", json=package("hillshade", wf, ok["processDescription"]["inputs"]),
                      timeout=30).status_code == 409
    assert httpx.put(f"{url}/processes/hillshade", json=ok, timeout=30).status_code == 403
    assert httpx.delete(f"{url}/processes/slope", timeout=30).status_code == 403
    assert httpx.delete(f"{url}/processes/nobody", timeout=30).status_code == 404
    bad_graph = package("bad", {"process": "hillshade", "inputs": {"data": {"collection": "nope"}}}, {})
    r = httpx.post(f"{url}/processes", json=bad_graph, timeout=30)
    assert r.status_code == 400 and "nope" in r.json()["detail"]
    bad_param = package("bad", wf, {"azimuth": {"schema": {"default": 999}}})
    r = httpx.post(f"{url}/processes", json=bad_param, timeout=30)
    assert r.status_code == 400 and "azimuth" in r.json()["detail"]
    no_default = package("bad", wf, {})
    assert httpx.post(f"{url}/processes", json=no_default, timeout=30).status_code == 400
    assert httpx.post(f"{url}/processes", json={"executionUnit": {}}, timeout=30).status_code == 400
    assert httpx.post(f"{url}/processes/shade/execution", json={"inputs": {"azimut": 3}}, timeout=30).status_code == 400

    svc = Service(url)
    with pytest.raises(ConflictError):
        svc.collection("dem").hillshade(azimuth=1).publish("shade", params=["azimuth"])
    before = svc.collection("shade").compute(bbox=BBOX, width=32)
    # replace: the collection now shows the new workflow
    replaced = package("shade", wf | {"inputs": wf["inputs"] | {"altitude": 10}}, {"azimuth": {"schema": {"default": 200}}})
    assert httpx.put(f"{url}/processes/shade", json=replaced, timeout=30).status_code == 204
    after = Service(url).collection("shade").compute(bbox=BBOX, width=32)
    expected = svc.collection("dem").hillshade(azimuth=200, altitude=10).compute(bbox=BBOX, width=32)
    assert np.array_equal(after, expected, equal_nan=True) and not np.array_equal(after, before, equal_nan=True)

    # a restart on the same directories keeps it
    url2 = own_server()
    assert np.array_equal(Service(url2).collection("shade").compute(bbox=BBOX, width=32), expected, equal_nan=True)
    assert httpx.delete(f"{url2}/processes/shade", timeout=30).status_code == 204
    assert httpx.get(f"{url2}/processes/shade", timeout=30).status_code == 404
    assert httpx.get(f"{url}/collections/shade", timeout=30).status_code == 404  # the other instance sees it too
    with pytest.raises(NotSupported):
        Service(url2).process("shade")


WF = {"process": "hillshade", "inputs": {"data": {"collection": "dem"}, "azimuth": {"$input": "azimuth"}}}
AZ = {"azimuth": {"schema": {"default": 200}}}


@pytest.mark.parametrize("body, status, words", [
    ([1, 2], 400, "application package"),
    ({"processDescription": "x"}, 400, "application package"),
    (package("../etc", WF, AZ), 400, "processDescription.id"),
    (package("0123456789abcdef01234567", WF, AZ), 400, "processDescription.id"),
    (package("parcels", WF, AZ), 409, "collection"),
    (package("ok", WF, AZ) | {"executionUnit": [{"value": WF}, {"value": WF}]}, 400, "executionUnit"),
    (package("ok", {"inputs": {}}, {}), 400, "process"),
    (package("ok", {"process": "hillshade", "inputs": {"data": {"collection": "dem"}, "azimuth": {"$input": 3}}}, {}),
     400, "placeholder"),
    (package("ok", {"process": "hillshade", "inputs": {"data": {"collection": "dem"}, "azimuth": {"$input": "bbox"}}},
             {"bbox": {"schema": {"default": 1}}}), 400, "reserved"),
    (package("ok", WF, AZ | {"ghost": {"schema": {"default": 1}}}), 400, "ghost"),
    (package("ok", {"process": "nope", "inputs": {}}, {}), 400, "nope"),
    (package("ok", {"process": "hillshade", "inputs": {"data": {"$input": "src"}}}, {"src": {"schema": {"default": 5}}}),
     400, "src"),
])
def test_bad_packages_are_4xx_naming_the_problem(own_server, body, status, words):
    url = own_server()
    r = httpx.post(f"{url}/processes", json=body, timeout=30)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json" and words in r.json()["detail"]
    assert [p["id"] for p in httpx.get(f"{url}/processes", timeout=30).json()["processes"]
            if "deployed" in p["keywords"]] == []


def test_execution_of_a_published_process_checks_its_inputs(own_server):
    url = own_server()
    assert httpx.post(f"{url}/processes", json=package("shade", WF, AZ), timeout=30).status_code == 201
    for body, words in (({"inputs": [1]}, "inputs"), ({"inputs": {"azimuth": 999, "bbox": BBOX, "width": 8}}, "azimuth"),
                        ({"inputs": {"nope": 1}}, "nope")):
        r = httpx.post(f"{url}/processes/shade/execution", json=body, timeout=30)
        assert r.status_code == 400 and words in r.json()["detail"], r.text
    big = httpx.post(f"{url}/processes", content=b"{" + b" " * 300_000 + b"}",
                     headers={"Content-Type": "application/json"}, timeout=30)
    assert big.status_code == 413
    r = httpx.post(f"{url}/processes/shade/execution", json={"inputs": {"azimuth": 10, "bbox": BBOX, "width": 8}},
                   headers={"Prefer": "respond-async"}, timeout=30)
    assert r.status_code == 201 and r.json()["processID"] == "shade"
