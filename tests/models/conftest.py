"""A crop classifier trained once through the API on the demo parcels (async job), and the
feature stack it reads: NDVI composites of three seasons of the demo Sentinel-2 series."""
from __future__ import annotations

import pytest

from tests.app.jobs_util import wait_job

RESOLUTION = 30.0  # metres: 9 times fewer pixels than native, parcels keep ~150 interior pixels


def ndvi(datetime: str) -> dict:
    return {"process": "normalized_difference", "inputs": {"a": "B08", "b": "B04", "name": "ndvi", "data": {
        "process": "composite", "inputs": {"bands": ["B04", "B08"], "data": {"collection": "sentinel2", "datetime": datetime}}}}}


STACK = {"process": "stack", "inputs": {"a": ndvi("2022-03-01/2022-04-30"), "b": ndvi("2022-05-01/2022-06-30"),
                                        "c": ndvi("2022-07-01/2022-09-30")}}
STACK_BANDS = ["ndvi", "ndvi_2", "ndvi_3"]


def train(client, **inputs) -> tuple[dict, dict]:
    """(final job status, job result) of an async train-model execution."""
    body = {"inputs": {"data": STACK, "features": {"collection": "parcels"}, "resolution": RESOLUTION, **inputs}}
    r = client.post("/processes/train-model/execution", json=body, headers={"Prefer": "respond-async"})
    assert r.status_code == 201, r.text
    st = wait_job(client, r.headers["Location"], timeout=300)
    result = client.get(r.headers["Location"] + "/results").json() if st["status"] == "successful" else {}
    return st, result


@pytest.fixture(scope="session")
def crop_model(client) -> dict:
    st, result = train(client, method="random_forest", name="Crops RF", seed=1)
    assert st["status"] == "successful", st
    return result["model"]

TRUE_COLOUR = {"process": "composite", "inputs": {"bands": ["B04", "B03", "B02"],
                                                   "data": {"collection": "sentinel2", "datetime": "2022-06-01/2022-09-30"}}}
UTM = "EPSG:32631"


@pytest.fixture(scope="session")
def clear_block(client) -> tuple[float, float, float, float]:
    """A 1280 m square (UTM 31N) where the feature stack and the true-colour composite are valid
    everywhere, found on the data (clouds and swaths move when the demo data changes)."""
    import numpy as np
    from rasterio.warp import transform_bounds

    from processes.engine.evaluate import evaluate
    from processes.engine.graph import parse_node
    from processes.engine.grid import Grid

    s = client.app.state.services
    w, south, e, n = transform_bounds("OGC:CRS84", UTM, *s.lookup("sentinel2").bbox)
    w, south = np.ceil(w / 1280) * 1280, np.ceil(south / 1280) * 1280
    nx, ny = int((e - w) // 1280), int((n - south) // 1280)
    grid = Grid.from_bounds(UTM, (w, south, w + nx * 1280, south + ny * 1280), nx * 8, ny * 8)
    a, b = evaluate([parse_node(STACK, s.resolve), parse_node(TRUE_COLOUR, s.resolve)], grid, s.lookup)
    ok = (a.mask & b.mask).reshape(ny, 8, nx, 8).mean((1, 3))
    i, j = np.unravel_index(np.argmax(ok), ok.shape)
    assert ok[i, j] == 1.0, "no clear 1280 m block in the demo data"
    top = south + ny * 1280 - i * 1280
    return (float(w + j * 1280), float(top - 1280), float(w + (j + 1) * 1280), float(top))


def region(block, resolution: float = 20) -> dict:
    return {"bbox": {"bbox": list(block), "crs": "http://www.opengis.net/def/crs/EPSG/0/32631"}, "resolution": resolution}
