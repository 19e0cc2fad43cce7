"""Tile caches: LRU bounds, the disk cache shared by processes, and a disk-cached service."""
from __future__ import annotations

from starlette.testclient import TestClient

from app.main import create_app
from app.tile_cache import DiskCache, LruCache, make_tile_cache


def test_lru_bounds():
    c = LruCache(2)
    c.put("a", b"1"), c.put("b", b"2"), c.get("a"), c.put("c", b"3")
    assert c.get("a") == b"1" and c.get("b") is None and c.get("c") == b"3"


def test_disk_cache_roundtrip_and_trim(tmp_path):
    c = DiskCache(tmp_path, max_bytes=1000, check_every=1000)
    for i in range(20):
        c.put(f"k{i}", bytes(100))
    assert c.get("k3") == bytes(100)
    c.trim()
    assert sum(p.stat().st_size for p in tmp_path.glob("*/*")) <= 1000
    assert DiskCache(tmp_path).get("k19") == bytes(100)  # another process sees it


def test_make_tile_cache(tmp_path):
    assert isinstance(make_tile_cache(f"disk:{tmp_path}:5", 10), DiskCache)
    assert isinstance(make_tile_cache("memory", 10), LruCache)


def test_service_serves_from_disk_cache(settings, tmp_path):
    s = settings.model_copy(update={"tile_cache": f"disk:{tmp_path / 'tiles'}", "jobs_dir": tmp_path / "jobs"})
    url = "/collections/dem/map/tiles/WebMercatorQuad/2/1/1?algorithm=hillshade"
    with TestClient(create_app(s)) as c:
        first = c.get(url).content
    assert len(list((tmp_path / "tiles").glob("*/*"))) == 1
    with TestClient(create_app(s)) as c:
        assert c.get(url).content == first
