"""Sources: STAC items selected by datetime, filter and footprint; mosaics and composites against
independent numpy computations on the same synthetic scenes; serialisation for jobs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rasterio.warp import transform_bounds

from processes.engine.datetimes import DatetimeError, parse_interval
from processes.engine.errors import GraphError
from processes.engine.evaluate import evaluate
from processes.engine.filters import FilterError
from processes.engine.graph import parse_node, parse_process
from processes.engine.grid import Grid
from processes.engine.sources import Asset, Item, mosaic_source, source_from_dict
from processes.engine.stac import items_from_catalog, items_from_folder, stac_source

from .conftest import write_cog

X0, Y1, N, PX = 600000.0, 4810000.0, 64, 10.0
BOUNDS = (X0, Y1 - N * PX, X0 + N * PX, Y1)
DATES = ["2023-05-02T10:30:00Z", "2023-06-11T10:30:00Z", "2023-07-21T10:30:00Z", "2023-08-30T10:30:00Z"]
CLOUD_COVER = [5.0, 40.0, 12.0, 25.0]
BBOX84 = [round(v, 7) for v in transform_bounds("EPSG:32631", "OGC:CRS84", *BOUNDS)]


def _scene(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DN of B04 and B08 (offset -1000 applied on reading) and SCL with a cloud and a shadow box."""
    rng = np.random.default_rng(k)
    red = rng.integers(1200, 2500, (N, N)).astype(np.uint16)
    nir = rng.integers(2500, 6000, (N, N)).astype(np.uint16)
    scl = np.full((N, N), 4, np.uint8)
    scl[8 * k: 8 * k + 20, 10: 40] = 9  # cloud
    scl[40: 50, 5 * k: 5 * k + 12] = 3  # shadow
    if k == 3:
        scl[:, 56:] = 0  # no data strip
        red[:, 56:] = 0
        nir[:, 56:] = 0
    return red, nir, scl


@pytest.fixture(scope="module")
def s2_folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("s2")
    for k, dt in enumerate(DATES):
        red, nir, scl = _scene(k)
        sid = f"S2_{dt[:10]}"
        assets = {}
        for name, arr in (("B04", red), ("B08", nir)):
            write_cog(d / f"{sid}_{name}.tif", arr[None], "EPSG:32631", BOUNDS, [name], 0)
            assets[name] = {"href": f"./{sid}_{name}.tif", "type": "image/tiff; application=geotiff", "roles": ["data"],
                            "eo:bands": [{"name": name}],
                            "raster:bands": [{"nodata": 0, "scale": 0.0001, "offset": -0.1}]}
        write_cog(d / f"{sid}_SCL.tif", scl[None], "EPSG:32631", BOUNDS, ["SCL"], 0, resampling="nearest")
        assets["SCL"] = {"href": f"./{sid}_SCL.tif", "type": "image/tiff; application=geotiff",
                         "roles": ["data", "classification"], "eo:bands": [{"name": "SCL"}]}
        assets["thumbnail"] = {"href": f"./{sid}.png", "type": "image/png", "roles": ["thumbnail"]}
        item = {"type": "Feature", "stac_version": "1.0.0", "id": sid, "bbox": BBOX84,
                "geometry": None, "properties": {"datetime": dt, "eo:cloud_cover": CLOUD_COVER[k], "platform": "s2b"},
                "assets": assets, "links": []}
        (d / f"{sid}.json").write_text(json.dumps(item))
    (d / "collection.json").write_text(json.dumps({
        "type": "Collection", "id": "s2", "links": [{"rel": "item", "href": f"./S2_{dt[:10]}.json"} for dt in DATES]}))
    return d


@pytest.fixture(scope="module")
def s2(s2_folder):
    return stac_source("s2", items_from_folder(s2_folder))


GRID = Grid.from_bounds("EPSG:32631", BOUNDS, N, N)


def _reflectance(dn: np.ndarray) -> np.ndarray:
    return dn.astype(np.float32) * np.float32(0.0001) + np.float32(-0.1)


def _clear(scl: np.ndarray) -> np.ndarray:
    return ~np.isin(scl, (0, 1, 3, 8, 9, 10))


def test_datetime_intervals():
    iv = parse_interval("2023-05/2023-07")
    assert iv.start.isoformat() == "2023-05-01T00:00:00+00:00"
    assert iv.end.isoformat() == "2023-07-31T23:59:59.999999+00:00"
    assert parse_interval("2023").end.month == 12
    assert parse_interval("../2023-06-11T10:30:00Z").start.year == 1
    for bad in ("2023-13-45", "2023-02-30", "yesterday", "2023-09/2023-05", "../..", "2023/2024/2025", ""):
        with pytest.raises(DatetimeError):
            parse_interval(bad)


def test_items_carry_scaling_cloud_mask_and_no_thumbnail(s2):
    item = s2.items[0]
    assert s2.band_names == ("B04", "B08", "SCL")
    assert {a.href.rsplit("_", 1)[-1] for a in item.assets} == {"B04.tif", "B08.tif", "SCL.tif"}
    assert s2.cloud_mask is not None and s2.cloud_mask.band == "SCL"
    r = item.read(GRID, ("B04", "SCL"))
    red, _, scl = _scene(0)
    np.testing.assert_allclose(r.band("B04"), _reflectance(red), atol=1e-6)
    np.testing.assert_array_equal(r.band("SCL"), scl)  # categorical: not scaled


def test_select_by_datetime_and_filter(s2):
    assert [i.datetime for i in s2.select("2023-06/2023-07")] == DATES[1:3]
    assert [i.datetime for i in s2.select("2023-07-21")] == [DATES[2]]
    from processes.engine.filters import canonical_filter

    f = canonical_filter("eo:cloud_cover < 20")
    assert [i.datetime for i in s2.select(None, f)] == [d for d, c in zip(DATES, CLOUD_COVER) if c < 20]
    assert [i.id for i in s2.select("2023-06/..", canonical_filter("id = 'S2_2023-08-30'"))] == ["S2_2023-08-30"]


def test_only_intersecting_items_are_opened(s2):
    """An item elsewhere, with a file that does not exist, is never opened."""
    far = Item("far", (Asset("/nonexistent/far.tif", ("B04", "B08", "SCL")),), "2023-07-01T00:00:00Z",
               (100.0, 10.0, 101.0, 11.0))
    src = mosaic_source("m", [s2, stac_source("far", (far,))])
    assert len(src.select("2023-06/2023-07")) == 3
    assert [i.id for i in src.covering(GRID, "2023-06/2023-07")] == ["S2_2023-06-11", "S2_2023-07-21"]
    r = src.read(GRID, ("B04",), "2023-06/2023-07")
    assert r.mask.any()


def test_a_narrowed_source_holds_only_what_its_reads_cover_and_reads_the_same(s2):
    """What a chunk task carries: the items its reads cover; each read gives the same pixels."""
    from processes.engine.filters import canonical_filter

    far = [Item(f"far{k}", (Asset("/nonexistent/far.tif", ("B04", "B08", "SCL")),), dt, (100.0, 10.0, 101.0, 11.0))
           for k, dt in enumerate(DATES)]
    src = mosaic_source("m", [s2, stac_source("far", tuple(far))])
    clear = canonical_filter("eo:cloud_cover < 20")
    reads = [(GRID.expand(2), "2023-06/2023-07", None), (GRID, None, clear)]
    small = src.narrowed(reads)
    assert sorted(i.id for i in small.items) == ["S2_2023-05-02", "S2_2023-06-11", "S2_2023-07-21"]
    assert small.version == src.version and small.cloud_mask == src.cloud_mask
    for grid, dt, f in reads:
        assert small.covering(grid, dt, f) == src.covering(grid, dt, f)
        a, b = small.read(grid, ("B04", "B08"), dt, f), src.read(grid, ("B04", "B08"), dt, f)
        np.testing.assert_array_equal(a.data, b.data)
        np.testing.assert_array_equal(a.mask, b.mask)
    assert [i.id for i in src.narrowed([(GRID, None, None)]).items] == [i.id for i in s2.items]
    assert src.narrowed([(GRID, None, None), (Grid.from_bounds("EPSG:4326", (100.2, 10.2, 100.4, 10.4), 8, 8),
                                                None, None)]) is src  # everything covered: the source itself
    nothing = src.narrowed([(GRID, "2020-01-01", None)])  # no item: one kept, which covers nothing either
    assert len(nothing.items) == 1 and nothing.covering(GRID, "2020-01-01") == ()


def test_mosaic_is_the_newest_clear_pixel(s2):
    r = s2.read(GRID, ("B04", "B08"))
    scenes = [_scene(k) for k in range(len(DATES))]
    want = np.zeros((2, N, N), np.float32)
    filled = np.zeros((N, N), bool)
    for red, nir, scl in reversed(scenes):
        use = _clear(scl) & ~filled
        want[0][use], want[1][use] = _reflectance(red)[use], _reflectance(nir)[use]
        filled |= use
    np.testing.assert_array_equal(r.mask, filled)
    np.testing.assert_allclose(r.data[:, filled], want[:, filled], atol=1e-6)
    one = s2.read(GRID, ("B04",), "2023-06-11")  # one scene: as it is, clouds included
    assert one.mask.all()


def test_median_composite_equals_numpy(s2):
    node = parse_process("composite", {"data": {"collection": "s2", "datetime": "2023"}, "method": "median",
                                       "bands": ["B04", "B08"]}, {"s2": s2}.__getitem__)
    (r,) = evaluate([node], GRID, {"s2": s2}.__getitem__)
    scenes = [_scene(k) for k in range(len(DATES))]
    stack = np.stack([np.where(_clear(scl), _reflectance(red), np.nan) for red, _, scl in scenes])
    want = np.nanmedian(stack, axis=0)
    ok = np.isfinite(want)
    np.testing.assert_array_equal(r.mask, ok)
    np.testing.assert_allclose(r.band("B04")[ok], want[ok], atol=1e-6)


def test_one_source_as_series_and_as_raster_in_one_graph(s2):
    """difference(composite(S), expression(S)): each use of S is computed once, the right kind."""
    resolve = {"s2": s2}.__getitem__
    src = {"collection": "s2", "datetime": "2023-05/2023-08"}
    node = parse_process("difference", {
        "a": {"process": "composite", "inputs": {"data": src, "bands": ["B08"]}},
        "b": {"process": "expression", "inputs": {"data": src, "expression": "B08"}}}, resolve)
    (r,) = evaluate([node], GRID, resolve)
    assert r.shape == (N, N) and r.mask.any()


def test_workflow_input_with_filter_selects_items(s2):
    resolve = {"s2": s2}.__getitem__
    node = parse_node({"collection": "s2", "filter": "eo:cloud_cover < 20", "bands": ["B04"]}, resolve)
    assert [i.id for i in s2.select(node.datetime, node.filter)] == ["S2_2023-05-02", "S2_2023-07-21"]
    with pytest.raises(FilterError, match="cloud_cover2"):
        parse_node({"collection": "s2", "filter": "cloud_cover2 < 20"}, resolve)
    with pytest.raises(FilterError):
        parse_node({"collection": "s2", "filter": "eo:cloud_cover <"}, resolve)
    with pytest.raises(GraphError, match="no item"):
        parse_node({"collection": "s2", "datetime": "2019"}, resolve)
    with pytest.raises(DatetimeError, match="datetime"):
        parse_node({"collection": "s2", "datetime": "2023-13-45"}, resolve)


def test_source_round_trips_for_jobs(s2):
    again = source_from_dict(json.loads(json.dumps(s2.to_dict())))
    assert again.band_names == s2.band_names and again.cloud_mask == s2.cloud_mask
    np.testing.assert_array_equal(again.read(GRID, ("B08",)).data, s2.read(GRID, ("B08",)).data)


def test_static_catalog_file_follows_item_links(s2_folder, s2):
    items = items_from_catalog(str(s2_folder / "collection.json"))
    assert [i.id for i in items] == [i.id for i in s2.items]
    with pytest.raises(ValueError, match="allowed"):
        items_from_catalog("http://127.0.0.1:9/collection.json", allowed=lambda url: False)


def test_budget_counts_only_the_bands_read(s2):
    from processes.engine.region import check_budget

    resolve = {"s2": s2}.__getitem__
    ndvi = parse_process("normalized_difference", {"data": {"collection": "s2"}, "a": "B08", "b": "B04"}, resolve)
    everything = parse_process("expression", {"data": {"collection": "s2"}, "expression": "B08 + B04 + SCL"}, resolve)
    scenes = len(s2.items)
    assert check_budget([ndvi], GRID, 10**9, resolve) == N * N * (1 + 2 * scenes)
    assert check_budget([everything], GRID, 10**9, resolve) == N * N * (1 + 3 * scenes)
