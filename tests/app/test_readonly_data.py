"""A replica on a read-only data volume (the deployment recipes mount the source data read-only,
filled once by the demo-data job): with build_demo_data off and the STAC files elsewhere, starting,
serving tiles, a stored workflow result, a synchronous execution and the STAC API write nothing
into the data folder."""
from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from app.main import create_app


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_the_service_writes_nothing_into_its_data_folder(client, settings, tmp_path):
    before = _snapshot(settings.data_dir)  # the session's app built the demo data
    assert any(k.endswith(".tif") for k in before)
    s = settings.model_copy(update={"jobs_dir": tmp_path / "jobs", "build_demo_data": False, "stac_dir": tmp_path / "stac"})
    with TestClient(create_app(s)) as c:
        assert c.get("/collections/dem/map/tiles/WebMercatorQuad/2/1/2").status_code == 200
        coll = c.post("/processes/slope/execution?response=collection", json={"inputs": {"data": {"collection": "dem"}}},
                      follow_redirects=False).headers["location"].replace("http://testserver", "")
        assert c.get(coll + "/map/tiles/WebMercatorQuad/1/0/0").status_code == 200
        r = c.post("/processes/hillshade/execution",
                   json={"inputs": {"data": {"collection": "dem"}, "bbox": [0, 40, 10, 45], "width": 32}})
        assert r.status_code == 200
        assert c.get("/stac/collections").status_code == 200
    assert list((tmp_path / "stac").iterdir())  # the STAC files went where they were told
    assert _snapshot(settings.data_dir) == before
