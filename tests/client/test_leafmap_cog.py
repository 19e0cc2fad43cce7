"""leafmap's own titiler helpers (TITILER_ENDPOINT=<service>) on the service's collections, offline;
`url=` is mapped to a collection and never fetched."""
from __future__ import annotations

import httpx
import leafmap
import numpy as np
import pytest
from rasterio.io import MemoryFile

from geodeferred_client import Service
from geodeferred_client.leafmap import add_layer, split_map
from tests.range_server import RangeHandler, RangeServer


@pytest.fixture
def endpoint(client, live_server, monkeypatch) -> str:
    monkeypatch.setenv("TITILER_ENDPOINT", live_server.url)
    return live_server.url


def test_cog_info_and_statistics_match_the_coverage(endpoint):
    info = leafmap.cog_info(f"{endpoint}/collections/dem")
    assert info["band_descriptions"][0][0] == "elevation" and info["count"] == 1
    assert leafmap.cog_bands(f"{endpoint}/collections/dem") == ["elevation"]
    bbox = leafmap.cog_bounds("dem")  # an id works as well as the URL
    assert bbox == httpx.get(f"{endpoint}/collections/dem", timeout=30).json()["extent"]["spatial"]["bbox"][0]
    stats = leafmap.cog_stats(f"{endpoint}/collections/dem")["elevation"]
    # independent reference: the coverage of the same extent at the same size, reduced with numpy
    w, s, e, n = bbox
    cov = httpx.get(f"{endpoint}/collections/dem/coverage", timeout=60,
                    params={"bbox": f"{w},{s},{e},{n}", "scale-size": "Lon(512),Lat(256)"})
    with MemoryFile(cov.content) as mem, mem.open() as ds:
        vals = ds.read(1)
    vals = vals[np.isfinite(vals)].astype(np.float64)
    assert stats["count"] == vals.size
    assert stats["min"] == pytest.approx(vals.min()) and stats["max"] == pytest.approx(vals.max())
    assert stats["percentile_2"] == pytest.approx(np.percentile(vals, 2), rel=1e-6)
    assert stats["percentile_98"] == pytest.approx(np.percentile(vals, 98), rel=1e-6)


def test_add_cog_layer_of_a_collection_and_of_a_workflow_result(endpoint):
    m = leafmap.Map()
    m.add_cog_layer(f"{endpoint}/collections/dem", name="dem", colormap="terrain", zoom_to_layer=False)
    layer = m.find_layer("dem")
    assert layer.url.startswith(f"{endpoint}/collections/dem/map/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?")
    assert "colormap=terrain" in layer.url
    assert httpx.get(layer.url.format(z=2, y=1, x=2), timeout=60).headers["content-type"] == "image/png"
    # a deferred result collection from the client, through leafmap's titiler path
    hs = Service(endpoint).collection("dem").hillshade(z_factor=30)
    m.add_cog_layer(hs.collection_url(), name="relief", colormap="gray", rescale="0,255", zoom_to_layer=False)
    relief = m.find_layer("relief")
    assert relief.url.startswith(hs.collection_url() + "/map/tiles/") and "rescale=0.0,255.0" in relief.url
    assert httpx.get(relief.url.format(z=3, y=2, x=4), timeout=60).status_code == 200
    # the client's own helpers: a layer and a split map
    add_layer(m, hs, name="client relief", colormap="gray")
    assert m.find_layer("client relief").url == hs.tile_layer(colormap="gray").url
    assert split_map(hs, Service(endpoint).collection("dem"), right_style={"colormap": "terrain"}) is not None
    import ipyleaflet

    plain = ipyleaflet.Map()
    add_layer(plain, hs, name="ipyleaflet relief", colormap="gray")
    assert [layer.url for layer in plain.layers if layer.name == "ipyleaflet relief"] == [hs.tile_layer(colormap="gray").url]


def test_foreign_urls_are_refused_and_never_fetched(endpoint, tmp_path):
    (tmp_path / "x.tif").write_bytes(b"not a tiff")
    with RangeServer(tmp_path) as other:
        for url in (f"{other.url}/x.tif", f"{other.url}/collections/dem", "file:///etc/passwd", "../dem", "dem/coverage"):
            for path in ("/cog/info", "/cog/statistics", "/cog/WebMercatorQuad/tilejson.json"):
                r = httpx.get(f"{endpoint}{path}", params={"url": url}, timeout=30)
                assert r.status_code == 400, (path, url, r.text)
                assert r.json()["title"] and "url" in r.json()["detail"]
        assert RangeHandler.requests_seen == []
    assert httpx.get(f"{endpoint}/cog/info", timeout=30).status_code == 400
    assert httpx.get(f"{endpoint}/cog/info", params={"url": "nope"}, timeout=30).status_code == 404
    r = httpx.get(f"{endpoint}/cog/WebMercatorQuad/tilejson.json", params={"url": "dem", "bidx": 7}, timeout=30)
    assert r.status_code == 400 and "bidx" in r.json()["detail"]
    r = httpx.get(f"{endpoint}/cog/WebMercatorQuad/tilejson.json", params={"url": "dem", "expression": "b1*2"}, timeout=30)
    assert r.status_code == 400 and "expression" in r.json()["detail"]
