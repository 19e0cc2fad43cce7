"""Training through the API: the crop classifier's accuracy on held-out parcels, the split by
polygon, the report against an independent computation from its confusion matrix, other methods,
and bad training inputs as 400s naming the problem."""
from __future__ import annotations

import json

import numpy as np
from rasterio.warp import transform_bounds
import pytest

from processes.models.mlm import validate_item

from tests.app.jobs_util import wait_job

from .conftest import STACK, STACK_BANDS, train

# Measured on the demo data (3 NDVI composites of 2022, 30 m, random forest, seed 1): 0.95
# overall accuracy on 30 % of the parcels held out; required here with a margin.
MIN_OVERALL_ACCURACY = 0.85


def parcels(client) -> list[dict]:
    return client.app.state.services.features_source("parcels").select()


def test_crop_classifier_accuracy_on_held_out_parcels(client, crop_model):
    rep = crop_model["report"]
    assert rep["overall_accuracy"] >= MIN_OVERALL_ACCURACY, rep["overall_accuracy"]
    # the report's figures follow from its confusion matrix (computed here independently)
    cm = np.array(rep["confusion_matrix"]["matrix"])
    n = cm.sum()
    assert n == rep["validation"]["pixels"]
    oa = np.trace(cm) / n
    pe = (cm.sum(0) * cm.sum(1)).sum() / n ** 2
    assert rep["overall_accuracy"] == pytest.approx(oa)
    assert rep["kappa"] == pytest.approx((oa - pe) / (1 - pe))
    for k, c in enumerate(rep["classes"]):
        assert c["support"] == cm[k].sum()
        assert c["recall"] == pytest.approx(cm[k, k] / cm[k].sum())
        assert c["precision"] == pytest.approx(cm[k, k] / cm[:, k].sum() if cm[:, k].sum() else 0.0)
    crops = sorted({f["properties"]["crop_type"] for f in parcels(client)})
    assert [c["name"] for c in rep["classes"]] == crops


def test_split_is_by_polygon(client, crop_model):
    rep = crop_model["report"]
    held = set(rep["held_out_polygons"])
    feats = {f["id"]: f["properties"]["crop_type"] for f in parcels(client)}
    # polygons with samples: some parcels are under clouds in every scene of a season
    assert held <= set(feats) and 0.5 * len(held) < rep["validation"]["polygons"] <= len(held)
    # every class is validated on parcels of its own, none of which was trained on
    assert {feats[i] for i in held} == set(feats.values())
    assert rep["training"]["polygons"] + len(held) <= len(feats)
    assert 0.2 < len(held) / len(feats) < 0.4


def test_model_is_a_valid_mlm_item(client, crop_model):
    item = client.get(f"/models/{crop_model['id']}").json()
    props = validate_item(item)  # stac-model's own validation
    assert props.input[0].bands == STACK_BANDS or [b.name for b in props.input[0].bands] == STACK_BANDS
    assert "semantic-segmentation" in {str(getattr(t, "value", t)) for t in props.tasks}
    assert props.input[0].input.dim_order == ["batch", "bands"]
    assert item["assets"]["model"]["roles"][0] == "mlm:model"
    assert item["assets"]["model"]["mlm:artifact_type"] == "onnx"
    assert [c["name"] for c in item["properties"]["mlm:output"][0]["classification:classes"]] == \
        [c["name"] for c in crop_model["report"]["classes"]]
    onnx = client.get(item["assets"]["model"]["href"])
    assert onnx.status_code == 200 and onnx.content[:2] == b"\x08\x07" or len(onnx.content) > 1000
    listing = client.get("/models").json()
    assert crop_model["id"] in [f["id"] for f in listing["features"]]
    html = client.get(f"/models/{crop_model['id']}/report?f=html")
    assert html.status_code == 200 and "Confusion matrix" in html.text and "kappa" in html.text
    assert client.get(f"/models/{crop_model['id']}/report").json() == crop_model["report"]


@pytest.mark.parametrize("method", ["gradient_boosting", "knn"])
def test_other_classifiers(client, method):
    st, result = train(client, method=method, max_samples=5000, max_validation=3000)
    assert st["status"] == "successful", st
    assert result["model"]["report"]["overall_accuracy"] >= MIN_OVERALL_ACCURACY - 0.1


def test_progress_is_reported(client):
    body = {"inputs": {"data": STACK, "features": {"collection": "parcels"}, "resolution": 60.0, "trees": 10}}
    r = client.post("/processes/train-model/execution", json=body, headers={"Prefer": "respond-async"})
    seen = set()
    from tests.app.jobs_util import wait_job
    st = wait_job(client, r.headers["Location"], timeout=300)
    seen.add(st["progress"])
    assert st["status"] == "successful" and st["progress"] == 100


def inline(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def post(client, **inputs):
    return client.post("/processes/train-model/execution", json={"inputs": {"data": STACK, **inputs}},
                       headers={"Prefer": "respond-async"})


def test_bad_training_inputs_are_400s(client):
    feats = parcels(client)
    one_class = [f for f in feats if f["properties"]["crop_type"] == "maize"]
    r = post(client, features=inline(one_class))
    assert r.status_code == 400 and "at least two classes" in r.json()["detail"]
    two = [f for f in feats if f["properties"]["crop_type"] in ("maize", "meadow")]
    few = [next(f for f in two if f["properties"]["crop_type"] == c) for c in ("maize", "meadow")] * 1
    r = post(client, features=inline(few))
    assert r.status_code == 400 and "labelled polygon" in r.json()["detail"]
    r = post(client, features=inline(two[:6]), resolution=200.0, min_samples=50)
    assert r.status_code == 400 and "too few samples" in r.json()["detail"]
    r = post(client, features={"collection": "parcels"}, label="no_such_property")
    assert r.status_code == 400 and "no_such_property" in r.json()["detail"]
    r = post(client, features={"collection": "nope"})
    assert r.status_code == 400 and "unknown features collection 'nope'" in r.json()["detail"]
    r = post(client, features={"collection": "parcels"}, method="svm-ish")
    assert r.status_code == 400 and "method" in r.json()["detail"]
    r = post(client, method="kmeans")
    assert r.status_code == 400 and "bbox" in r.json()["detail"]
    assert json.loads(r.text)["type"].startswith("http")


def test_kmeans_fitted_once_gives_the_same_clusters_everywhere(client, clear_block):
    """k-means fitted once on a region's pixels (bounded sample), stored as a clusterer and applied
    by the cluster process (numbers 1..k; tile-independence is tested in tests/ops/test_classify.py)."""
    from processes.outputs import read_geotiff_bytes

    from .conftest import region

    bbox84 = list(transform_bounds("EPSG:32631", "OGC:CRS84", *clear_block))
    st, result = train(client, method="kmeans", features=None, bbox=bbox84, clusters=4, max_samples=1000)
    assert st["status"] == "successful", st
    model = result["model"]
    assert sum(model["report"]["cluster_sizes"]) == model["report"]["samples"] == 1000
    item = client.get(f"/models/{model['id']}").json()
    assert item["properties"]["geodeferred:kind"] == "clusterer"
    r = client.post("/processes/cluster/execution", json={"inputs": {"data": STACK, "model": model["id"],
                                                                       **region(clear_block)}})
    assert r.status_code == 200, r.text
    clusters = read_geotiff_bytes(r.content)[0][0]
    assert set(np.unique(clusters[np.isfinite(clusters)])) <= {1.0, 2.0, 3.0, 4.0}
    assert len(np.unique(clusters[np.isfinite(clusters)])) >= 2


def test_training_polygons_selected_with_a_cql2_filter(client):
    """features as in zonal statistics: a collection cut by a CQL2 filter (here to one class, so the
    classifier refuses it; without the filter the same request trains, see crop_model)."""
    r = post(client, features={"collection": "parcels", "filter": "crop_type = 'maize'"})
    assert r.status_code == 400 and "at least two classes" in r.json()["detail"]
    r = post(client, features={"collection": "parcels", "filter": "crop_type = "})
    assert r.status_code == 400 and "filter" in r.json()["title"].lower()


LANDCOVER_NAMES = {"1": "forest", "2": "grassland", "3": "cropland", "4": "bare soil", "5": "water", "6": "urban"}
# Measured (3 NDVI composites of 2022, 30 m, random forest, seed 0, 32-pixel blocks): 0.94 overall
# accuracy on 30 % of each class's blocks held out; required here with a margin.
MIN_LANDCOVER_ACCURACY = 0.85


def test_classifier_trained_on_the_land_cover_raster(client):
    """Labels from a class raster: the pixels of each class in 32 x 32 blocks are held out together;
    the classes are the raster's values with the names given."""
    import numpy as np

    from processes.engine.evaluate import evaluate
    from processes.engine.graph import CollectionNode
    from processes.engine.grid import Grid

    s = client.app.state.services
    bbox = list(s.lookup("sentinel2").bbox)
    r = client.post("/processes/train-model/execution", json={"inputs": {
        "data": STACK, "labels": {"collection": "landcover"}, "bbox": bbox, "resolution": 30.0,
        "class_names": LANDCOVER_NAMES, "seed": 0}}, headers={"Prefer": "respond-async"})
    assert r.status_code == 201, r.text
    st = wait_job(client, r.headers["Location"], timeout=300)
    assert st["status"] == "successful", st
    rep = client.get(r.headers["Location"] + "/results").json()["model"]["report"]
    assert rep["overall_accuracy"] >= MIN_LANDCOVER_ACCURACY, rep["overall_accuracy"]
    # the classes present in the land cover of the area (read here directly), under their names
    (raster,) = evaluate([CollectionNode("landcover")], Grid.from_bounds("OGC:CRS84", tuple(bbox), 256, 256), s.lookup)
    present = sorted({int(v) for v in np.unique(raster.data[0][raster.mask])})
    assert [c["value"] for c in rep["classes"]] == [v for v in present if LANDCOVER_NAMES[str(v)] not in
                                                         rep["dropped_classes"]]
    assert [c["name"] for c in rep["classes"]] == [LANDCOVER_NAMES[str(c["value"])] for c in rep["classes"]]
    held = rep["held_out_polygons"]
    assert held and all(h.startswith("block ") for h in held)
    assert rep["validation"]["polygons"] <= len(held) and rep["training"]["polygons"] > rep["validation"]["polygons"]


def test_bad_raster_label_inputs_are_400s(client):
    r = post(client, labels={"collection": "landcover"}, features=None)
    assert r.status_code == 400 and "bbox" in r.json()["detail"]
    r = post(client, labels={"collection": "landcover"}, features={"collection": "parcels"}, bbox=[4.3, 43.4, 4.31, 43.41])
    assert r.status_code == 400 and "not both" in r.json()["detail"]
    r = post(client, labels={"collection": "sentinel2", "bands": ["B04", "B08"]}, features=None, bbox=[4.3, 43.4, 4.31, 43.41])
    assert r.status_code == 400 and "one band" in r.json()["detail"]
