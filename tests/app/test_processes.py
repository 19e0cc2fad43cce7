"""OGC API - Processes over HTTP: descriptions, sync and async execution, Part 3 workflows,
and the same pixels through tiles, coverages and execution."""
from __future__ import annotations

import io

import morecantile
import numpy as np
import pytest
from PIL import Image

from processes.outputs import read_geotiff_bytes

from .jobs_util import wait_job

NESTED = {"process": "http://testserver/processes/hillshade",
          "inputs": {"data": {"collection": "http://testserver/collections/dem"}, "z_factor": 40}}


def test_process_list_and_description(client):
    ids = {p["id"] for p in client.get("/processes").json()["processes"]}
    assert {"hillshade", "slope", "aspect", "normalized_difference", "composite", "mask", "threshold",
            "difference", "expression", "reclassify"} <= ids
    d = client.get("/processes/hillshade").json()
    assert d["inputs"]["azimuth"]["schema"]["maximum"] == 360
    assert d["inputs"]["azimuth"]["schema"]["default"] == 315
    assert {"data", "bbox", "width"} <= set(d["inputs"])
    assert set(d["outputs"]) == {"result", "statistics"}
    assert "async-execute" in d["jobControlOptions"]
    assert client.get("/processes/nope").status_code == 404


def test_sync_geotiff_and_statistics(client):
    body = {"inputs": {"data": {"collection": "dem"}, "bbox": [0, 40, 20, 50], "width": 400, "z_factor": 40}}
    r = client.post("/processes/hillshade/execution", json=body)
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/tiff")
    data, prof = read_geotiff_bytes(r.content)
    assert data.shape == (1, 200, 400) and prof["crs"].to_string() in ("OGC:CRS84", "EPSG:4326")
    assert prof["descriptions"] == ("hillshade",)
    np.testing.assert_allclose(prof["bounds"], (0, 40, 20, 50))
    stats = client.post("/processes/hillshade/execution", json=body | {"outputs": {"statistics": {}}}).json()
    h = stats["hillshade"]
    assert h["count"] == 80000
    assert h["mean"] == pytest.approx(float(data[0].mean()), rel=1e-5)
    assert 0 <= h["min"] < h["max"] <= 255


def test_same_pixels_through_tiles_coverages_and_execution(client):
    """slope(hillshade(dem)) through the three interfaces over one WorldCRS84Quad tile's grid."""
    tms = morecantile.tms.get("WorldCRS84Quad")
    z, x, y = 3, 9, 2
    b = tms.xy_bounds(x, y, z)
    bbox = [b.left, b.bottom, b.right, b.top]
    exec_body = {"inputs": {"data": NESTED, "bbox": bbox, "width": 256, "height": 256, "z_factor": 1000}}
    sync, _ = read_geotiff_bytes(client.post("/processes/slope/execution", json=exec_body).content)
    r = client.post("/processes/slope/execution?response=collection",
                    json={"inputs": {"data": NESTED, "z_factor": 1000}}, follow_redirects=False)
    assert r.status_code == 303
    coll = r.headers["location"].replace("http://testserver", "")
    cov, _ = read_geotiff_bytes(client.get(f"{coll}/coverage?bbox={','.join(map(str, bbox))}"
                                           "&scale-size=Lon(256),Lat(256)").content)
    np.testing.assert_array_equal(cov, sync)
    tile = np.asarray(Image.open(io.BytesIO(client.get(
        f"{coll}/map/tiles/WorldCRS84Quad/{z}/{y}/{x}?rescale=0,90&colormap=gist_gray").content)))
    expected = np.clip(sync[0] * 255 / 90, 0, 255).astype(np.uint8)
    assert np.abs(tile[..., 0].astype(int) - expected).max() <= 1
    assert sync[0].std() > 0.5


def test_collection_output_is_stable_and_described(client):
    body = {"inputs": {"data": NESTED}}
    a = client.post("/processes/slope/execution?response=collection", json=body, follow_redirects=False)
    b = client.post("/processes/slope/execution?response=collection", json=body, follow_redirects=False)
    assert a.status_code == b.status_code == 303 and a.headers["location"] == b.headers["location"]
    coll = client.get(a.headers["location"]).json()
    rels = {l["rel"] for l in coll["links"]}
    assert "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map" in rels
    assert "http://www.opengis.net/def/rel/ogc/1.0/workflow" in rels
    wf = client.get(a.headers["location"] + "/workflow").json()
    assert wf["process"] == "slope" and wf["inputs"]["data"]["process"] == "hillshade"
    lp = client.post("/processes/slope/execution?response=landingPage", json=body, follow_redirects=False)
    assert lp.status_code == 303
    landing = client.get(lp.headers["location"]).json()
    data = [l for l in landing["links"] if l["rel"] == "data"][0]["href"]
    cols = client.get(data.replace("http://testserver", "")).json()["collections"]
    assert cols[0]["id"] == a.headers["location"].rsplit("/", 1)[1]


def test_async_job_lifecycle(client):
    body = {"inputs": {"data": NESTED, "bbox": [-10, 35, 10, 45], "width": 300}}
    r = client.post("/processes/slope/execution", json=body, headers={"Prefer": "respond-async"})
    assert r.status_code == 201 and r.headers["preference-applied"] == "respond-async"
    url = r.headers["location"].replace("http://testserver", "")
    assert r.json()["status"] in ("accepted", "running", "successful")
    st = wait_job(client, url)
    assert st["status"] == "successful", st
    res = client.get(url + "/results").json()
    tif = client.get(res["result"]["href"].replace("http://testserver", ""))
    data, _ = read_geotiff_bytes(tif.content)
    sync, _ = read_geotiff_bytes(client.post("/processes/slope/execution", json=body).content)
    np.testing.assert_array_equal(data, sync)
    assert any(j["jobID"] == st["jobID"] for j in client.get("/jobs").json()["jobs"])
    d = client.delete(url)
    assert d.status_code == 200 and d.json()["status"] == "dismissed"
    assert client.get(url + "/results").status_code == 404


def test_jobs_errors(client):
    assert client.get("/jobs/0123456789abcdef0123456789abcdef").status_code == 404
    assert client.get("/jobs/..%2F..%2Fetc").status_code == 404
    assert client.get("/jobs?limit=abc").status_code == 400
    assert client.get("/jobs?limit=0").status_code == 400


@pytest.mark.parametrize("body, status, node", [
    (b"", 400, None),
    (b"[1, 2]", 400, None),
    (b"\xff\xfe\x00", 400, None),
    (b"{\"inputs\": ", 400, None),
    (b"{\"inputs\": 5}", 400, "hillshade"),
    (b"{\"inputs\": {\"data\": {\"collection\": \"dem\"}, \"bbox\": [0, 0, 1]}}", 400, "hillshade.inputs.bbox"),
    (b"{\"inputs\": {\"data\": {\"collection\": \"dem\"}, \"bbox\": [1, 0, 0, 1]}}", 400, "hillshade.inputs.bbox"),
    (b"{\"inputs\": {\"data\": {\"collection\": \"dem\"}, \"bbox\": [0, 0, 1, 1], \"width\": \"x\"}}", 400, "hillshade.inputs.width"),
    (b"{\"inputs\": {\"data\": {\"process\": \"nope\", \"inputs\": {}}, \"bbox\": [0, 0, 1, 1]}}", 400, "hillshade.inputs.data"),
    (b"{\"inputs\": {\"data\": {\"collection\": \"nope\"}, \"bbox\": [0, 0, 1, 1]}}", 400, "hillshade.inputs.data"),
    (b"{\"inputs\": {\"data\": {\"collection\": \"dem\"}, \"azimuth\": \"west\", \"bbox\": [0, 0, 1, 1]}}", 400, "hillshade.inputs.azimuth"),
    (b"{\"inputs\": {\"data\": {\"collection\": \"dem\", \"bands\": [\"B04\"]}, \"bbox\": [0, 0, 1, 1]}}", 400, "hillshade.inputs.data"),
    (b"{\"inputs\": {\"data\": {\"collection\": \"dem\"}, \"bbox\": [-180, -90, 180, 90], \"width\": 20000}}", 400, None),
    (b"{\"inputs\": {\"data\": {\"collection\": \"dem\"}}}", 400, None),
    (b"{\"inputs\": {\"data\": {\"collection\": \"dem\"}, \"bbox\": [0, 0, 1, 1]}, \"outputs\": {\"x\": {}}}", 400, "hillshade.outputs"),
    (b"{\"inputs\": {\"data\": {\"collection\": \"http://169.254.169.254/latest\"}, \"bbox\": [0, 0, 1, 1]}}", 400, None),
])
def test_bad_execution_requests(client, body, status, node):
    r = client.post("/processes/hillshade/execution", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    p = r.json()
    assert r.headers["content-type"] == "application/problem+json" and p["status"] == status
    assert "Traceback" not in r.text
    if node:
        assert p["detail"].startswith(node), p["detail"]


def test_type_mismatch_names_the_node(client):
    body = {"inputs": {"data": {"process": "composite", "inputs": {"data": {"collection": "dem"}}}, "bbox": [0, 0, 1, 1]}}
    r = client.post("/processes/slope/execution", json=body)
    assert r.status_code == 400 and r.json()["detail"].startswith("slope.inputs.data.inputs.data")


def test_wrong_content_type_and_method(client):
    assert client.post("/processes/hillshade/execution", content=b"a=b",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 415
    assert client.get("/processes/hillshade/execution").status_code == 405
    assert client.post("/processes/nope/execution", json={"inputs": {}}).status_code == 404
    assert client.post("/processes/hillshade/execution?response=weird", json={}).status_code == 400


def test_openeo_flat_graph_and_cycle(client):
    graph = {"load": {"process_id": "load_collection", "arguments": {"id": "dem"}},
             "hs": {"process_id": "hillshade", "arguments": {"data": {"from_node": "load"}, "z_factor": 40}, "result": True}}
    body = {"process_graph": graph, "inputs": {"bbox": [0, 40, 20, 50], "width": 100}, "outputs": {"statistics": {}}}
    flat = client.post("/processes/hillshade/execution", json=body).json()
    nested = client.post("/processes/hillshade/execution", json={
        "inputs": {"data": {"collection": "dem"}, "z_factor": 40, "bbox": [0, 40, 20, 50], "width": 100},
        "outputs": {"statistics": {}}}).json()
    assert flat == nested
    graph["load"] = {"process_id": "slope", "arguments": {"data": {"from_node": "hs"}}}
    r = client.post("/processes/hillshade/execution", json=body)
    assert r.status_code == 400 and "cycle" in r.json()["detail"] and "process_graph.hs" in r.json()["detail"]


def test_collection_output_selection(client):
    body = {"inputs": {"data": {"collection": "dem"}}, "outputs": {"statistics": {}}}
    r = client.post("/processes/hillshade/execution?response=collection", json=body, follow_redirects=False)
    assert r.status_code == 400
    body["outputs"] = {"result": {}}
    assert client.post("/processes/hillshade/execution?response=collection", json=body,
                       follow_redirects=False).status_code == 303


@pytest.mark.parametrize("body", [
    b'{"inputs": {"data": {"collection": "dem"}, "bbox": [-1e308, -1e308, 1e308, 1e308], "width": 16}}',
    b'{"inputs": {"data": {"collection": "dem"}, "bbox": [0, 0, 1, 1], "resolution": 1e-320}}',
    b'{"inputs": {"data": {"collection": "dem"}, "bbox": [-1e308, -90, 1e308, 90], "resolution": 1e-300}}',
    b'{"inputs": {"data": {"collection": "dem"}, "bbox": [0, 0, 1, 1], "crs": "IAU_2015:30100"}}',
    b'{"process_graph": {"a": {"process_id": "hillshade", "arguments": {"data": {"from_node": "b"}}, "result": true},'
    b' "b": {"process_id": "load_collection", "arguments": {"id": "dem"}}}, "inputs": "x"}',
    b'{"inputs": {"data": {"collection": "dem"}, "bbox": [0, 0, 1, 1], "width": ' + b"9" * 5000 + b"}}",
    b"[" * 100000 + b"]" * 100000,
    b'{"inputs": {"data": {"collection": "\\ud800"}, "bbox": [0, 0, 1, 1]}}',
])
def test_hostile_bodies_are_400s(client, body):
    """Found by fuzzing: overflowing extents, untransformable CRSs, huge or deep JSON, lone surrogates."""
    r = client.post("/processes/hillshade/execution", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["status"] == 400


def test_flat_graph_chains_and_diamonds_are_bounded(client):
    chain = {f"n{i}": {"process_id": "slope", "arguments": {"data": {"from_node": f"n{i + 1}"}}} for i in range(3000)}
    chain["n3000"] = {"process_id": "load_collection", "arguments": {"id": "dem"}}
    chain["n0"]["result"] = True
    r = client.post("/processes/slope/execution", json={"process_graph": chain, "inputs": {"bbox": [0, 0, 1, 1]}})
    assert r.status_code == 400 and "deeper" in r.json()["detail"]
    for depth in (40, 20):  # deeper than allowed; within depth but 2^20 paths
        _diamond(client, depth)


def _diamond(client, depth):
    diamond = {f"n{depth}": {"process_id": "load_collection", "arguments": {"id": "dem"}}}
    for i in range(depth):
        diamond[f"n{i}"] = {"process_id": "difference", "arguments": {"a": {"from_node": f"n{i + 1}"}, "b": {"from_node": f"n{i + 1}"}}}
    diamond["n0"]["result"] = True
    r = client.post("/processes/difference/execution", json={"process_graph": diamond, "inputs": {"bbox": [0, 0, 1, 1]}})
    assert r.status_code == 400
