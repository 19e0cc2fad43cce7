"""Zonal statistics over features and dates against exactextract on the same rasters: every
statistic, for parcels straddling chunks, smaller than a pixel, with holes, multipart, partly and
wholly outside the raster; chunked (many small chunks) and in one piece; inline and process pool."""
from __future__ import annotations

import math

import numpy as np
import pytest

from processes.engine.executor import InlineExecutor, ProcessExecutor
from processes.engine.vectors import InlineFeatures
from processes.zonal.request import ZonalParams, prepare, run

from .conftest import CRS, SCENES
from .reference import exactextract_stats, ndvi_rasters

NDVI = {"process": "normalized_difference", "inputs": {"data": {"collection": "s2"}, "a": "B08", "b": "B04"}}
OPS = ["mean", "stdev", "min", "max", "count", "sum", "median", "quantile(q=0.1)", "quantile(q=0.9)"]
NAMES = {"stdev": "std", "quantile(q=0.1)": "p10", "quantile(q=0.9)": "p90"}
COLUMNS = {"quantile(q=0.1)": "quantile_10", "quantile(q=0.9)": "quantile_90"}


def compute(s2, parcels, chunk=64, executor=None, **inputs):
    p = ZonalParams(features={"type": "FeatureCollection", "features": parcels}, data=inputs.pop("data", NDVI),
                    **inputs)
    req = prepare(p, {"s2": s2}.__getitem__, {"s2": s2}.__getitem__, lambda c: (_ for _ in ()).throw(KeyError(c)))
    return {r["id"]: r for r in run(req, executor or InlineExecutor(), chunk)}


@pytest.fixture(scope="module")
def reference(s2, parcels, tmp_path_factory):
    rasters = ndvi_rasters(s2, tmp_path_factory.mktemp("ref"))
    inside = [f for f in parcels if f["id"] != "outside"]
    return {day: {r["fid"]: r for r in exactextract_stats(path, inside, OPS, CRS)} for day, path in rasters.items()}


ALL = dict(statistics=("mean", "std", "min", "max", "count", "sum", "median", "area"), percentiles=(10, 90))


def check(got, reference, parcels):
    days = sorted(reference)
    assert len(days) == 4 and days == sorted({dt[:10] for _, dt, _, _ in SCENES})
    for f in parcels:
        rec = got[f["id"]]
        assert [s["datetime"] for s in rec["series"]] == days
        for s in rec["series"]:
            if f["id"] == "outside":
                assert s["count"] == 0 and s["mean"] is None and s["valid_fraction"] == 0
                continue
            ref = reference[s["datetime"]][f["id"]]
            assert s["count"] == pytest.approx(ref["count"], rel=1e-6, abs=1e-6), (f["id"], s["datetime"])
            if ref["count"] == 0:  # all cloud: missing, never zero
                assert all(s[k] is None for k in ("mean", "std", "min", "max", "median", "p10", "p90", "sum"))
                continue
            for op in OPS:
                name = NAMES.get(op, op)
                assert s[name] == pytest.approx(ref[COLUMNS.get(op, op)], rel=1e-5, abs=1e-6), (f["id"], s["datetime"], name)


def test_every_statistic_matches_exactextract_chunked(s2, parcels, reference):
    got = compute(s2, parcels, chunk=64, **ALL)  # 64 px chunks: many parcels straddle them
    check(got, reference, parcels)
    june = {r: got[r]["series"][2] for r in got}
    assert all(s["valid_fraction"] == 0 and s["mean"] is None for s in june.values())  # the all-cloud day


def test_one_piece_equals_chunked_and_process_pool(s2, parcels, reference):
    one = compute(s2, parcels, chunk=4096, **ALL)
    check(one, reference, parcels)
    pool = ProcessExecutor(2)
    try:
        chunked = compute(s2, parcels, chunk=64, executor=pool, **ALL)
    finally:
        pool.shutdown()
    for fid, rec in one.items():
        for a, b in zip(rec["series"], chunked[fid]["series"]):
            for k, v in a.items():
                assert v == pytest.approx(b[k], rel=1e-12, abs=1e-12) if isinstance(v, float) else v == b[k]


def test_valid_fraction_and_area(s2, parcels, reference):
    from pyproj import Geod
    from shapely.geometry import shape

    got = compute(s2, parcels, statistics=("mean", "count", "area"))
    for f in parcels:
        area = abs(Geod(ellps="WGS84").geometry_area_perimeter(shape(f["geometry"]))[0]) / 1e4
        assert got[f["id"]]["properties"]["area_ha"] == pytest.approx(area, rel=1e-9)
    # April is clear apart from the SCL no-data strip (x < 50 m): the fraction is the observed share
    april = {fid: r["series"][0] for fid, r in got.items()}
    assert april["ordinary"]["valid_fraction"] == pytest.approx(1.0)
    assert april["edge"]["valid_fraction"] == pytest.approx((4000 - 3900.37) / 250, rel=1e-6)  # the part on the raster
    assert april["outside"]["valid_fraction"] == 0


def test_centers_rule_counts_the_pixels_gdal_rasterizes(s2, parcels, tmp_path):
    """'centers' against GDAL's rasterization (a pixel is in when its centre is) on April's clear pixels."""
    import rasterio
    from rasterio.features import geometry_mask
    from shapely.geometry import shape
    from shapely.ops import transform
    from .conftest import TO_UTM

    got = compute(s2, parcels, statistics=("count", "mean"), coverage="centers")
    april = ndvi_rasters(s2, tmp_path)["2023-04-01"]
    with rasterio.open(april) as ds:
        values, tr = ds.read(1), ds.transform
    for f in parcels:
        g = transform(lambda x, y: TO_UTM.transform(x, y), shape(f["geometry"]))
        inside = ~geometry_mask([g], values.shape, tr) & np.isfinite(values)
        s = got[f["id"]]["series"][0]
        assert s["count"] == inside.sum(), f["id"]
        if inside.any():
            assert s["mean"] == pytest.approx(float(values[inside].astype(np.float64).mean()), rel=1e-9)


def test_on_a_dask_cluster_the_chunks_spread_and_equal_inline(s2, parcels, reference, tmp_path):
    """A real dask cluster (scheduler + two `dask worker` processes on loopback)."""
    from processes.engine.executor import make_executor

    from ..servers.dask import dask_cluster

    inline = compute(s2, parcels, chunk=64, **ALL)
    with dask_cluster(tmp_path, workers=2) as c:
        ex = make_executor(c.spec)
        try:
            got = compute(s2, parcels, chunk=64, executor=ex, **ALL)
            ran = ex._get_client().run(lambda dask_worker: dask_worker.state.executed_count)
        finally:
            ex.shutdown()
    check(got, reference, parcels)
    assert len(ran) == 2 and all(n > 0 for n in ran.values()), ran  # both workers computed chunks
    for fid, rec in inline.items():
        for a, b in zip(rec["series"], got[fid]["series"]):
            for k, v in a.items():
                assert v == pytest.approx(b[k], rel=1e-12, abs=1e-12) if isinstance(v, float) else v == b[k]
