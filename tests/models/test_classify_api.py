"""classify as a Part 3 process: a class map of a region equals scikit-learn applied directly to
the same pixels; deferred class-map tiles in the model's categorical colours, with a legend;
bad models and stacks as 400s naming the problem."""
from __future__ import annotations

import io

import morecantile
import numpy as np
from pyproj import Transformer
from PIL import Image
from sklearn.ensemble import RandomForestClassifier

from processes.outputs import read_geotiff_bytes
from tests.model_util import put_model

from .conftest import STACK, STACK_BANDS, region

def execute(client, pid: str, inputs: dict, block) -> np.ndarray:
    r = client.post(f"/processes/{pid}/execution", json={"inputs": {**inputs, **region(block)}})
    assert r.status_code == 200, r.text
    return read_geotiff_bytes(r.content)[0]


def test_class_map_equals_scikit_learn_on_the_same_pixels(client, clear_block):
    stack = execute(client, "stack", STACK["inputs"], clear_block)
    valid = np.isfinite(stack).all(0)
    x = stack.reshape(3, -1).T[valid.ravel()]
    y = 1 + (x[:, 1] > 0.5) + (x[:, 2] > 0.6)  # labels from the features: any rule works here
    rf = RandomForestClassifier(20, random_state=0).fit(x, y)
    put_model(client.app.state.services.models, "test-direct-rf", rf, STACK_BANDS)
    classes = execute(client, "classify", {"data": STACK, "model": "test-direct-rf"}, clear_block)[0]
    assert np.array_equal(np.isfinite(classes), valid)
    assert np.array_equal(classes[valid], rf.predict(x).astype(np.float32))
    probs = execute(client, "classify", {"data": STACK, "model": "test-direct-rf", "output": "probabilities"}, clear_block)
    assert np.allclose(probs[:, valid].T, rf.predict_proba(x), atol=1e-5)


def test_class_map_tiles_and_legend(client, crop_model, clear_block):
    r = client.post("/processes/classify/execution?response=collection",
                    json={"inputs": {"data": STACK, "model": crop_model["id"]}}, follow_redirects=False)
    assert r.status_code == 303
    coll = client.get(r.headers["Location"]).json()
    legend = coll["legend"]
    assert [c["name"] for c in legend] == [c["name"] for c in crop_model["report"]["classes"]]
    # a z14 WebMercatorQuad tile over the parcels, in the classes' colours only
    lon, lat = Transformer.from_crs("EPSG:32631", "OGC:CRS84", always_xy=True).transform((clear_block[0] + clear_block[2]) / 2, (clear_block[1] + clear_block[3]) / 2)
    t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 14)
    tile = client.get(r.headers["Location"].replace("http://testserver", "") + f"/map/tiles/WebMercatorQuad/14/{t.y}/{t.x}?f=png")
    assert tile.status_code == 200, tile.text
    img = np.asarray(Image.open(io.BytesIO(tile.content)).convert("RGBA"))
    shown = {tuple(p[:3]) for p in img[img[..., 3] > 0].reshape(-1, 4)}
    colours = {tuple(int(c["color"][i:i + 2], 16) for i in (1, 3, 5)) for c in legend}
    assert shown and shown <= colours
    assert len(shown) >= 2


def test_unknown_model_and_wrong_stack_are_400s(client, crop_model, clear_block):
    REGION = region(clear_block)
    r = client.post("/processes/classify/execution", json={"inputs": {"data": STACK, "model": "no-such-model", **REGION}})
    assert r.status_code == 400 and "unknown model 'no-such-model'" in r.json()["detail"]
    two = {"process": "stack", "inputs": {"a": STACK["inputs"]["a"], "b": STACK["inputs"]["b"]}}
    r = client.post("/processes/classify/execution", json={"inputs": {"data": two, "model": crop_model["id"], **REGION}})
    assert r.status_code == 400
    assert "['ndvi', 'ndvi_2']" in r.json()["detail"] and str(STACK_BANDS) in r.json()["detail"]
    r = client.post("/processes/cluster/execution", json={"inputs": {"data": STACK, "model": crop_model["id"], **REGION}})
    assert r.status_code == 400 and "not a clusterer" in r.json()["detail"]
    assert client.get("/models/no-such-model").status_code == 404
