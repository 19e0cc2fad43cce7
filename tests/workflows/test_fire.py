"""The burn-severity and fire-history workflows: the engine's classes against a numpy reference
read from the scene COGs, the fire years against the generator's truth, class-map tiles in the
legend's colours, and every bad input a 400 naming it."""
from __future__ import annotations

import io

import morecantile
import numpy as np
import pytest
from PIL import Image
from shapely.geometry import shape

from demodata import truth
from processes.engine.evaluate import evaluate
from processes.engine.graph import parse_node
from processes.workflows.fire import SEVERITY_CLASSES
from processes.zonal.engine import native_grid

from .conftest import reference_severity

FIRES = {2022: "F2022-01", 2023: "F2023-01"}


def engine(client, process: str, inputs: dict):
    s = client.app.state.services
    node = parse_node({"process": process, "inputs": inputs}, s.resolve)
    (r,) = evaluate([node], native_grid(s.lookup("sentinel2")), s.lookup)
    return r


@pytest.mark.parametrize("year", sorted(FIRES))
def test_severity_equals_numpy_composites_and_finds_the_fire(client, s2, year):
    landcover = client.app.state.services.lookup("landcover").items[0].assets[0].href
    ref_dnbr, ref_cls = reference_severity(s2, landcover, year)
    dnbr = engine(client, "burn-severity", {"year": year, "output": "dnbr"})
    sev = engine(client, "burn-severity", {"year": year})
    assert sev.band_names == ("severity",) and dnbr.band_names == ("nbr_diff",)
    ok = sev.mask & np.isfinite(ref_cls)
    assert ok.sum() > 0.5 * ok.size and (sev.mask == np.isfinite(ref_cls)).mean() > 0.999
    # B12 and SCL are 20 m: the engine resamples B12 bilinearly (the reference repeats pixels)
    assert np.median(np.abs(dnbr.data[0][ok] - ref_dnbr[ok])) < 0.01
    assert (sev.data[0][ok] == ref_cls[ok]).mean() > 0.97
    burned = sev.mask & (sev.data[0] >= 1)
    fire = truth.burned_masks()[FIRES[year]]
    assert burned.shape == fire.shape
    hit = (burned & fire).sum() / fire.sum()
    false = (burned & ~truth.burned_any()).sum() * 100 / 1e4  # ha of 10 m pixels
    assert hit > 0.97 and false < 0.02 * fire.sum() * 100 / 1e4, (hit, false)


def test_fire_history_gives_the_last_year_and_the_count(client):
    last = engine(client, "fire-history", {"years": "2022/2023"})
    count = engine(client, "fire-history", {"years": [2022, 2023], "output": "times_burned"})
    assert last.band_names == ("last_burned",) and count.band_names == ("times_burned",)
    for year, fid in FIRES.items():
        fire = truth.burned_masks()[fid]
        assert (last.mask & (last.data[0] == year))[fire].mean() > 0.97
    burned = last.mask
    assert (burned == count.mask).all() and set(np.unique(count.data[0][count.mask])) <= {1.0, 2.0}
    assert (burned & ~truth.burned_any()).sum() < 0.03 * truth.burned_any().sum()
    worst = engine(client, "fire-history", {"years": "2022/2023", "output": "max_severity"})
    sev = {y: engine(client, "burn-severity", {"year": y}) for y in FIRES}
    both = worst.mask & sev[2022].mask & sev[2023].mask
    assert both.mean() > 0.4
    np.testing.assert_array_equal(worst.data[0][both], np.maximum(sev[2022].data[0], sev[2023].data[0])[both])


def test_severity_tiles_are_a_class_map_with_a_legend(client):
    r = client.post("/processes/burn-severity/execution?response=collection", json={"inputs": {"year": 2023}},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    coll = client.get(r.headers["location"]).json()
    legend = coll["legend"]
    assert [(e["value"], e["name"], e["color"]) for e in legend] == [(float(v), n, c) for v, n, c in SEVERITY_CLASSES]
    fire = client.get("/collections/fire_perimeters/items/F2023-01").json()
    t = morecantile.tms.get("WebMercatorQuad").tile(*shape(fire["geometry"]).centroid.coords[0], 14)
    tile = client.get(f"{r.headers['location']}/map/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}")  # the 2023 fire
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"
    rgba = np.asarray(Image.open(io.BytesIO(tile.content)).convert("RGBA")).reshape(-1, 4)
    seen = {tuple(int(v) for v in px[:3]) for px in rgba[rgba[:, 3] > 0]}
    colours = {tuple(int(e["color"][i:i + 2], 16) for i in (1, 3, 5)): e["value"] for e in legend}
    assert seen <= set(colours), seen - set(colours)
    assert {colours[c] for c in seen} >= {0.0, 3.0}  # unburned around, moderate-high or worse in the scar


def test_described_with_their_parameters(client):
    ids = {p["id"] for p in client.get("/processes").json()["processes"]}
    assert {"burn-severity", "fire-history", "burned-area"} <= ids
    doc = client.get("/processes/burn-severity").json()
    assert {"year", "season", "thresholds", "exclude", "pre_fire", "post_fire", "output", "bbox"} <= set(doc["inputs"])
    assert doc["inputs"]["year"]["minOccurs"] == 1


@pytest.mark.parametrize("process,inputs,words", [
    ("burn-severity", {"year": 2020}, ["no scene", "2019-09-01/2019-10-31", "2020"]),
    ("burn-severity", {"year": 2023, "thresholds": [-0.25, -0.1, 0.27, 0.1, 0.44, 0.66]}, ["thresholds", "increasing"]),
    ("burn-severity", {"year": 2023, "pre_fire": "2023-09-01/2023-09-30", "post_fire": "2023-06-01/2023-06-30"},
     ["pre-fire window", "before the post-fire"]),
    ("burn-severity", {"year": 2023, "season": "10-31/09-01"}, ["season", "ends before"]),
    ("burn-severity", {"year": 2023, "season": "13-01/13-31"}, ["season"]),
    ("burn-severity", {"year": 2023, "exclude": {"collection": "nowhere", "classes": [3]}}, ["nowhere"]),
    ("burn-severity", {"year": 2023, "nir": "B99"}, ["B99"]),
    ("burn-severity", {}, ["year"]),
    ("fire-history", {"years": "2023/2022"}, ["years", "ends before"]),
    ("fire-history", {"years": "2014/2023"}, ["at most 8"]),
    ("fire-history", {"years": [2022, 2022]}, ["distinct"]),
])
def test_bad_inputs_are_400_naming_the_problem(client, process, inputs, words):
    r = client.post(f"/processes/{process}/execution?response=collection", json={"inputs": inputs})
    assert r.status_code == 400, r.text
    detail = r.json()["detail"]
    assert all(w in detail for w in words), detail
