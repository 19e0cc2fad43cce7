"""Evaluation: halos add up along chains, tiles are seamless, overviews keep tile cost flat,
and the reader agrees with GDAL's own warper."""
from __future__ import annotations

import morecantile
import numpy as np
import pytest
import rasterio
from rasterio.warp import Resampling, reproject

from processes.engine.evaluate import evaluate, margins
from processes.engine.executor import make_executor
from processes.engine.graph import parse_process
from processes.engine.grid import Grid
from processes.engine.reader import choose_level, dataset_info, read
from processes.engine.region import evaluate_region
from processes.engine.sources import Asset, Item, ItemSource

WMQ = morecantile.tms.get("WebMercatorQuad")


def tile_grid(z, x, y) -> Grid:
    b = WMQ.xy_bounds(x, y, z)
    return Grid.from_bounds("EPSG:3857", (b.left, b.bottom, b.right, b.top), 256, 256)


def block_grid(z, x0, y0, nx, ny) -> Grid:
    a, b = WMQ.xy_bounds(x0, y0, z), WMQ.xy_bounds(x0 + nx - 1, y0 + ny - 1, z)
    return Grid.from_bounds("EPSG:3857", (a.left, b.bottom, b.right, a.top), 256 * nx, 256 * ny)


def chain(dem):
    """slope(hillshade(dem)): two 1-pixel halos in a row; exaggerated so the seam has real relief."""
    return parse_process("slope", {"z_factor": 1000, "data": {"process": "hillshade", "inputs": {
        "data": {"collection": "dem"}, "z_factor": 50}}}, lambda c: dem)


def test_halos_add_up_along_a_chain(dem):
    node = chain(dem)
    m = margins([node])
    assert m[node] == 0
    assert m[node.input("data")] == 1
    assert m[node.input("data").input("data")] == 2


@pytest.mark.parametrize("z, x0, y0", [(4, 6, 5), (6, 30, 25)])
def test_tile_mosaic_equals_one_piece(dem, z, x0, y0):
    node = chain(dem)
    lookup = {"dem": dem}.__getitem__
    tiles = [[evaluate([node], tile_grid(z, x0 + i, y0 + j), lookup)[0] for i in range(2)] for j in range(2)]
    mosaic = np.block([[t.data[0] for t in row] for row in tiles])
    mosaic_mask = np.block([[t.mask for t in row] for row in tiles])
    whole = evaluate([node], block_grid(z, x0, y0, 2, 2), lookup)[0]
    assert mosaic_mask.all() and whole.mask.all()
    np.testing.assert_allclose(mosaic, whole.data[0], atol=1e-4)
    # the seam itself is not constant or empty: there is real relief across it
    assert np.ptp(mosaic[:, 250:262]) > 1


def test_region_chunks_in_processes_equal_one_piece(dem):
    node = chain(dem)
    grid = block_grid(5, 14, 10, 3, 2)
    whole = evaluate([node], grid, {"dem": dem}.__getitem__)[0]
    ex = make_executor("process:2")
    try:
        (merged,) = evaluate_region([node], grid, {"dem": dem}.__getitem__, ex, chunk=200)
    finally:
        ex.shutdown()
    np.testing.assert_array_equal(merged.mask, whole.mask)
    np.testing.assert_allclose(merged.data, whole.data, atol=1e-4)


def test_a_finishing_step_runs_in_the_worker_that_evaluated_the_chunk(dem):
    """What a writer does with a chunk (compress it) happens where the chunk was computed: the
    coordinator receives the step's result, in region order."""
    import os

    from processes.engine.region import chunks, region_parts

    from .chunk_work import where_and_what

    node, grid = chain(dem), block_grid(5, 14, 10, 3, 2)
    whole = evaluate([node], grid, {"dem": dem}.__getitem__)[0]
    ex = make_executor("process:2")
    try:
        got = list(region_parts([node], grid, {"dem": dem}.__getitem__, ex, chunk=256, then=where_and_what))
    finally:
        ex.shutdown()
    assert [(c, r) for _, c, r, _ in got] == [(c, r) for c, r, _, _ in chunks(grid, 256)]
    assert os.getpid() not in {pid for pid, *_ in got}
    assert sum(s for *_, s in got) == pytest.approx(float(whole.data[0][whole.mask].astype(np.float64).sum()), rel=1e-6)


def test_chunk_tasks_carry_only_the_scenes_their_window_reads(utm_path, tmp_path):
    """A region over a long scene series: each chunk task pickles the few items under its window
    (halo included), and the region is the same as one piece."""
    import pickle

    from processes.engine.region import chunk_sources, chunks, region_parts
    from processes.engine.evaluate import margins

    tiles = [(600000 + 1000 * i, 4800000 + 1000 * j) for i in range(4) for j in range(4)]
    items = tuple(Item(f"t{i}-{d}", (Asset(utm_path, ("elevation", "noise")),), f"2023-0{d}-01T00:00:00Z",
                       tuple(transform_footprint(x, y))) for i, (x, y) in enumerate(tiles) for d in range(1, 10))
    src = ItemSource("series", items, "v1")
    node = parse_process("hillshade", {"data": {"collection": "series", "bands": ["elevation"], "datetime": "2023-03/2023-05"}},
                         lambda c: src)
    grid = Grid.from_bounds("EPSG:32631", (600000, 4800000, 604000, 4804000), 400, 400)
    need = margins([node])
    sizes = []
    for c, r, w, h in chunks(grid, 100):
        window = grid.window(c, r, w, h)
        narrow = chunk_sources(need, window, {"series": src})["series"]
        read = window.expand(need[node.input("data")])  # the collection's read: the window and its halo
        assert set(narrow.items) == set(src.covering(read, "2023-03/2023-05"))
        assert {i.datetime[:7] for i in narrow.items} == {"2023-03", "2023-04", "2023-05"}
        sizes.append(len(pickle.dumps(narrow)))
    assert sum(sizes) / len(sizes) < len(pickle.dumps(src)) / 4
    whole = evaluate([node], grid, {"series": src}.__getitem__)[0]
    ex = make_executor("process:2")
    try:
        parts = list(region_parts([node], grid, {"series": src}.__getitem__, ex, chunk=100))
    finally:
        ex.shutdown()
    merged = np.block([[p.rasters[0].data[0] for p in parts[k:k + 4]] for k in range(0, 16, 4)])
    np.testing.assert_allclose(merged, whole.data[0], atol=1e-5)
    assert np.block([[p.rasters[0].mask for p in parts[k:k + 4]] for k in range(0, 16, 4)]).sum() == whole.mask.sum()


def transform_footprint(x: float, y: float) -> tuple[float, float, float, float]:
    """CRS84 bounds of a 1 km UTM 31N square."""
    from rasterio.warp import transform_bounds

    return transform_bounds("EPSG:32631", "OGC:CRS84", x, y, x + 1000, y + 1000)


def test_overview_level_follows_zoom(dem_path):
    info = dataset_info(dem_path)
    assert len(info.levels) > 1
    coarse, fine = choose_level(info, tile_grid(0, 0, 0)), choose_level(info, tile_grid(6, 30, 25))
    assert coarse.width < fine.width
    assert fine.index == -1  # zoom 6 is finer than the 1/3-degree data


def test_reader_matches_gdal_nearest(dem_path):
    grid = tile_grid(3, 3, 2)
    ours, valid = read(dem_path, grid, resampling="nearest")
    with rasterio.open(dem_path) as src:
        level = choose_level(dataset_info(dem_path), grid)
        ov = src if level.index < 0 else rasterio.open(dem_path, overview_level=level.index)
        ref = np.zeros((grid.height, grid.width), np.float32)
        reproject(ov.read(1), ref, src_transform=ov.transform, src_crs=ov.crs, dst_transform=grid.transform,
                  dst_crs=grid.crs, resampling=Resampling.nearest)
    assert valid.all()
    agree = np.isclose(ours[0], ref, atol=1e-3).mean()
    assert agree > 0.995, agree


def test_reader_utm_source_into_web_mercator(utm_path):
    """Non-separable path (coarse transform grid): equal to an exact per-pixel pyproj transform,
    and to GDAL's warper except where its approximate transformer picks the neighbouring pixel."""
    from pyproj import Transformer
    from rasterio.warp import transform_bounds

    with rasterio.open(utm_path) as src:
        w, s, e, n = transform_bounds(src.crs, "EPSG:3857", *src.bounds)
        band = src.read(1)
        grid = Grid.from_bounds("EPSG:3857", (w, s, e, n), 300, 300)
        gdal = np.full((grid.height, grid.width), -32768, np.float32)
        reproject(band, gdal, src_transform=src.transform, src_crs=src.crs, dst_transform=grid.transform,
                  dst_crs=grid.crs, resampling=Resampling.nearest, src_nodata=-32768, dst_nodata=-32768)
        x, y = np.meshgrid(grid.xs(), grid.ys())
        sx, sy = Transformer.from_crs("EPSG:3857", src.crs.to_string(), always_xy=True).transform(x, y)
        col, row = ~src.transform * (sx, sy)
    inside = (col >= 0) & (col < band.shape[1]) & (row >= 0) & (row < band.shape[0])
    exact = band[np.clip(np.floor(row).astype(int), 0, 399), np.clip(np.floor(col).astype(int), 0, 399)]
    ours, valid = read(utm_path, grid, (1,), resampling="nearest")
    assert np.array_equal(valid, inside)
    assert np.isclose(ours[0], exact)[inside].mean() > 0.999
    both = inside & (gdal != -32768)
    assert np.isclose(ours[0], gdal)[both].mean() > 0.95


def test_outside_data_is_invalid(utm_path):
    coll = ItemSource("u", (Item("u", (Asset(utm_path, ("elevation", "noise")),)),))
    (r,) = evaluate([parse_process("slope", {"data": {"collection": "u", "bands": ["elevation"]}}, lambda c: coll)],
                    tile_grid(3, 0, 0), {"u": coll}.__getitem__)
    assert not r.mask.any()


def test_region_on_a_dask_cluster_equals_one_piece(dem):
    """The executor is configuration: a dask.distributed cluster gives the same merged region."""
    node = chain(dem)
    grid = block_grid(4, 6, 5, 2, 1)
    whole = evaluate([node], grid, {"dem": dem}.__getitem__)[0]
    ex = make_executor("dask-local:2")
    try:
        (merged,) = evaluate_region([node], grid, {"dem": dem}.__getitem__, ex, chunk=160)
    finally:
        ex.shutdown()
    np.testing.assert_allclose(merged.data, whole.data, atol=1e-4)


def test_only_needed_bands_are_read(utm_path):
    """An operation that reads one band of a two-band collection makes the engine read only that one."""
    from processes.engine.evaluate import band_needs

    coll = ItemSource("u", (Item("u", (Asset(utm_path, ("elevation", "noise")),)),))
    lookup = {"u": coll}.__getitem__
    nd = parse_process("normalized_difference", {"data": {"collection": "u"}, "a": "noise", "b": "elevation"}, lookup)
    th = parse_process("threshold", {"data": {"collection": "u"}, "value": 1, "band": "noise"}, lookup)
    ex = parse_process("expression", {"data": {"collection": "u"}, "expression": "b2 * 2"}, lookup)
    base = nd.input("data")
    assert band_needs([nd], lookup) == {base: ("elevation", "noise")}
    assert band_needs([th], lookup) == {base: ("noise",)}
    assert band_needs([ex], lookup) == {base: None}  # positional names need every band
    assert band_needs([th, base], lookup) == {base: None}
    grid = Grid.from_bounds("EPSG:32631", (600000, 4800000, 604000, 4804000), 100, 100)
    (a,) = evaluate([th], grid, lookup)
    (b,) = evaluate([parse_process("threshold", {"data": {"collection": "u", "bands": ["elevation", "noise"]},
                                                  "value": 1, "band": "noise"}, lookup)], grid, lookup)
    np.testing.assert_array_equal(a.data, b.data)
