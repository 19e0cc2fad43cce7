"""A catalog entry may point at a COG over HTTP (range requests), but only under an allowed prefix."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.main import create_app
from processes.outputs import read_geotiff_bytes
from tests.range_server import RangeHandler, RangeServer

CATALOG = """
collections:
  remote_dem:
    type: raster
    title: A DEM read over HTTP
    href: {url}/dem.tif
    bands: [elevation]
"""


@pytest.fixture
def served_dem(client, settings, tmp_path):  # client: the demo data is built
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(next(settings.data_dir.glob("dem_[0-9]*.tif")), root / "dem.tif")
    with RangeServer(root) as server:
        yield server


def test_remote_cog_by_range_requests(settings, tmp_path, served_dem):
    cat = tmp_path / "catalog.yaml"
    cat.write_text(CATALOG.format(url=served_dem.url))
    s = settings.model_copy(update={"catalog": cat, "jobs_dir": tmp_path / "jobs", "build_demo_data": False,
                                    "allowed_remote_prefixes": [served_dem.url + "/"]})
    with TestClient(create_app(s)) as c:
        r = c.get("/collections/remote_dem/map/tiles/WebMercatorQuad/3/2/4?algorithm=hillshade&z_factor=30")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        remote, _ = read_geotiff_bytes(c.get("/collections/remote_dem/coverage?bbox=0,40,20,50").content)
    assert any(x.startswith("bytes=") for x in RangeHandler.requests_seen)
    assert "full" not in RangeHandler.requests_seen  # never downloaded whole
    local = settings.model_copy(update={"jobs_dir": tmp_path / "jobs2"})
    with TestClient(create_app(local)) as c:
        here, _ = read_geotiff_bytes(c.get("/collections/dem/coverage?bbox=0,40,20,50").content)
    assert (remote == here).all()


def test_remote_cog_outside_allowed_prefixes_is_refused(settings, tmp_path, served_dem):
    cat = tmp_path / "catalog.yaml"
    cat.write_text(CATALOG.format(url=served_dem.url))
    s = settings.model_copy(update={"catalog": cat, "jobs_dir": tmp_path / "jobs", "build_demo_data": False,
                                    "allowed_remote_prefixes": ["https://data.example.org/"]})
    with pytest.raises(ValueError, match="not under an allowed remote prefix"):
        with TestClient(create_app(s)):
            pass
    assert RangeHandler.requests_seen == []  # nothing was fetched


STAC_CATALOG = """
collections:
  remote_s2:
    type: raster
    title: Sentinel-2 scenes of a static STAC catalog read over HTTP
    stac: {url}/sentinel2/collection.json
    render: {{bands: [B04, B03, B02], rescale: [0, 0.3]}}
"""


def copy_scenes(settings, dst: Path) -> None:
    """The demo STAC folder: JSON documents copied, COGs and thumbnails hard-linked (read only, ~0.4 GB)."""
    import demodata

    src = demodata.expected_paths(settings.data_dir, settings.demo_size, settings.dem_width)["s2_items"]

    def link_or_copy(a: str, b: str) -> None:
        (shutil.copy2 if a.endswith(".json") else os.link)(a, b)

    shutil.copytree(src, dst, copy_function=link_or_copy)


def test_remote_static_stac_catalog(client, settings, tmp_path, capsys):
    """Items and COGs of a static catalog over HTTP range requests; requests per tile counted."""
    root = tmp_path / "www"
    copy_scenes(settings, root / "sentinel2")
    local = client.app.state.services.catalog.rasters["sentinel2"].collection
    with RangeServer(root) as server:
        cat = tmp_path / "catalog.yaml"
        cat.write_text(STAC_CATALOG.format(url=server.url))
        s = settings.model_copy(update={"catalog": cat, "jobs_dir": tmp_path / "jobs", "build_demo_data": False,
                                        "tile_cache": "none", "allowed_remote_prefixes": [server.url + "/"]})
        with TestClient(create_app(s)) as c:
            remote = c.app.state.services.catalog.rasters["remote_s2"].collection
            assert [i.id for i in remote.items] == [i.id for i in local.items]
            w, so, e, n = remote.bbox
            import morecantile

            t = morecantile.tms.get("WebMercatorQuad").tile((w + e) / 2, (so + n) / 2, 13)
            day = next(i.datetime[:10] for i in local.items if i.datetime.startswith("2023-07"))  # one scene
            counts = []
            for dx in (0, 1, 0):  # cold, a neighbour (warm handles), the first again (warm blocks)
                RangeHandler.requests_seen = []
                r = c.get(f"/collections/remote_s2/map/tiles/WebMercatorQuad/13/{t.y}/{t.x + dx}?datetime={day}")
                assert r.status_code == 200, r.text
                counts.append(len(RangeHandler.requests_seen))
            assert "full" not in RangeHandler.requests_seen
            here = client.get(f"/collections/sentinel2/map/tiles/WebMercatorQuad/13/{t.y}/{t.x}?datetime={day}")
            assert here.content == r.content
    with capsys.disabled():
        print(f"\n[remote] one-scene true-colour tile over HTTP: {counts[0]} range requests cold, "
              f"{counts[1]} for a neighbour tile, {counts[2]} warm")
    assert counts[2] <= counts[0]


def test_remote_catalog_asset_outside_prefixes_is_refused(client, settings, tmp_path):
    import json

    root = tmp_path / "www"
    copy_scenes(settings, root / "sentinel2")
    item = sorted((root / "sentinel2").glob("S2_*.json"))[0]
    doc = json.loads(item.read_text())
    first = next(iter(doc["assets"].values()))
    first["href"] = "http://169.254.169.254/latest/meta-data.tif"
    item.write_text(json.dumps(doc))
    with RangeServer(root) as server:
        cat = tmp_path / "catalog.yaml"
        cat.write_text(STAC_CATALOG.format(url=server.url))
        s = settings.model_copy(update={"catalog": cat, "jobs_dir": tmp_path / "jobs", "build_demo_data": False,
                                        "allowed_remote_prefixes": [server.url + "/"]})
        with pytest.raises(ValueError, match="not under an allowed remote prefix"):
            with TestClient(create_app(s)):
                pass


STAC_API_CATALOG = """
collections:
  searched:
    type: raster
    title: Sentinel-2 scenes of a STAC API search
    stac_api: {url}/stac
    search: {{collections: [sentinel2], datetime: "2023-06/2023-08", filter: "eo:cloud_cover < 30"}}
    render: {{bands: [B04, B03, B02], rescale: [0, 0.3]}}
"""


def test_remote_stac_api_search(live_server, client, settings, tmp_path):
    """A catalog entry that is a STAC API search (pystac-client against a real STAC API on
    loopback: this service's own): the items it finds, and the same pixels as the local source."""
    local = client.app.state.services.catalog.rasters["sentinel2"].collection
    from processes.engine.filters import canonical_filter

    want = [i.id for i in local.select("2023-06/2023-08", canonical_filter("eo:cloud_cover < 30"))]
    cat = tmp_path / "catalog.yaml"
    cat.write_text(STAC_API_CATALOG.format(url=live_server.url))
    s = settings.model_copy(update={"catalog": cat, "jobs_dir": tmp_path / "jobs", "build_demo_data": False,
                                    "tile_cache": "none", "allowed_remote_prefixes": [live_server.url + "/"]})
    with TestClient(create_app(s)) as c:
        remote = c.app.state.services.catalog.rasters["searched"].collection
        assert sorted(i.id for i in remote.items) == sorted(want) and want
        assert all(a.href.startswith("/vsicurl/" + live_server.url) for i in remote.items for a in i.assets)
        import morecantile

        w, so, e, n = remote.bbox
        t = morecantile.tms.get("WebMercatorQuad").tile((w + e) / 2, (so + n) / 2, 13)
        item = want[0]
        there = c.get(f"/collections/searched/map/tiles/WebMercatorQuad/13/{t.y}/{t.x}?item={item}")
        assert there.status_code == 200, there.text
    here = client.get(f"/collections/sentinel2/map/tiles/WebMercatorQuad/13/{t.y}/{t.x}?item={item}")
    assert here.content == there.content
