"""OGC API - Coverages: subsetting, scaling, field selection, GeoTIFF, bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from rasterio.warp import Resampling, reproject

from processes.outputs import read_geotiff_bytes


def test_domainset_and_rangetype(client, settings):
    d = client.get("/collections/dem/coverage/domainset").json()["generalGrid"]
    assert d["axisLabels"] == ["Lon", "Lat"]
    assert d["axis"][0]["lowerBound"] == -180 and d["axis"][1]["upperBound"] == 90
    assert d["axis"][0]["resolution"] == pytest.approx(0.5)
    fields = client.get("/collections/sentinel2/coverage/rangetype").json()["field"]
    # one field per band asset of the STAC items (B02..B12, B8A at 10/20 m, SCL), in the items' order
    item = json.loads(next(settings.data_dir.glob("default/sentinel2/S2_*.json")).read_text())
    assert [f["id"] for f in fields] == [k for k, a in item["assets"].items() if "data" in a["roles"]]
    assert len(fields) == 11


def test_subset_and_scale_size(client, settings):
    r = client.get("/collections/dem/coverage?subset=Lon(0:20),Lat(40:50)&scaleSize=Lon(80),Lat(40)")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/tiff")
    data, prof = read_geotiff_bytes(r.content)
    assert data.shape == (1, 40, 80)
    np.testing.assert_allclose(prof["bounds"], (0, 40, 20, 50))
    # independent reference: GDAL's warper on the source COG, same grid, bilinear
    src_path = next(settings.data_dir.glob("dem_[0-9]*.tif"))
    ref = np.zeros((40, 80), np.float32)
    with rasterio.open(src_path) as src:
        reproject(rasterio.band(src, 1), ref, dst_transform=prof["transform"], dst_crs="EPSG:4326",
                  resampling=Resampling.bilinear)
    assert np.corrcoef(ref.ravel(), data[0].ravel())[0, 1] > 0.99


def test_native_resolution_default_and_scale_factor(client):
    data, _ = read_geotiff_bytes(client.get("/collections/dem/coverage?bbox=0,0,10,5").content)
    assert data.shape == (1, 10, 20)  # 0.5 degree demo DEM
    data, _ = read_geotiff_bytes(client.get("/collections/dem/coverage?bbox=0,0,10,5&scale-factor=0.5").content)
    assert data.shape == (1, 20, 40)


def test_field_selection_and_datetime(client):
    bbox = client.get("/collections/sentinel2").json()["extent"]["spatial"]["bbox"][0]
    q = f"bbox={','.join(map(str, bbox))}&scale-size=Lon(64),Lat(64)&properties=B04,B08&datetime=2022-06-01/2022-08-31"
    r = client.get(f"/collections/sentinel2/coverage?{q}")
    data, prof = read_geotiff_bytes(r.content)
    assert data.shape == (2, 64, 64) and prof["descriptions"] == ("B04", "B08")


@pytest.mark.parametrize("query, status", [
    ("subset=Lon(0:20),Lat(40)", 400),
    ("subset=Time(1:2)", 400),
    ("bbox=1,2,3", 400),
    ("bbox=10,0,0,5", 400),
    ("bbox=a,b,c,d", 400),
    ("scale-size=Lon(0)", 400),
    ("scale-axes=Lon(0)", 400),
    ("width=-5", 400),
    ("scale-size=Lon(99999999)", 400),
    ("scale-factor=-1", 400),
    ("properties=nope", 400),
    ("f=png", 406),
    ("bbox=200,0,210,5", 400),
    ("bbox=-1e308,-1e308,1e308,1e308", 400),
])
def test_bad_coverage_requests(client, query, status):
    r = client.get(f"/collections/dem/coverage?{query}")
    assert r.status_code == status, r.text
    if status != 200:
        assert r.json()["status"] == status


def test_unknown_coverage(client):
    assert client.get("/collections/nope/coverage").status_code == 404
    assert client.get("/collections/parcels/coverage").status_code == 404
