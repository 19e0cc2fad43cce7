"""Jobs and their results survive a restart of the service; an interrupted job is resumed. With
either job store; with PostgreSQL the restarted service has a local folder of its own (another
machine), since nothing of a job lives on local disk."""
from __future__ import annotations

from starlette.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from processes.engine.region import Region
from processes.execute import job_request
from processes.engine.graph import parse_process
from processes.jobs import open_job_store

from .jobs_util import wait_job

BODY = {"inputs": {"data": {"collection": "dem"}, "bbox": [5, 40, 15, 48], "width": 200, "z_factor": 30}}


def fresh_settings(settings, tmp_path, backend: str) -> Settings:
    return settings.model_copy(update={"jobs_dir": tmp_path / "jobs", "jobs_backend": backend})


def restarted(s: Settings, tmp_path) -> Settings:
    """The settings of the service after a restart: the same disk, or for PostgreSQL another one."""
    return s if s.jobs_backend == "embedded" else s.model_copy(update={"jobs_dir": tmp_path / "elsewhere"})


def test_finished_job_survives_restart(settings, tmp_path, jobs_backend):
    s = fresh_settings(settings, tmp_path, jobs_backend)
    with TestClient(create_app(s)) as c:
        r = c.post("/processes/hillshade/execution", json=BODY, headers={"Prefer": "respond-async"})
        url = r.headers["location"].replace("http://testserver", "")
        assert wait_job(c, url)["status"] == "successful"
        before = c.get(url + "/results/result").content
        coll = c.post("/processes/slope/execution?response=collection",
                      json={"inputs": {"data": {"collection": "dem"}}}, follow_redirects=False).headers["location"]
    with TestClient(create_app(restarted(s, tmp_path))) as c:  # a new service process
        st = c.get(url).json()
        assert st["status"] == "successful"
        assert c.get(url + "/results/result").content == before
        assert any(j["jobID"] == st["jobID"] for j in c.get("/jobs").json()["jobs"])
        if s.jobs_backend == "embedded":  # stored workflow results live in jobs_dir
            assert c.get(coll.replace("http://testserver", "") + "/map/tiles/WebMercatorQuad/1/0/0").status_code == 200


def test_interrupted_job_is_resumed_on_start(settings, tmp_path, jobs_backend):
    """A job left 'running' by a dead worker (no lock holder) completes after the next start."""
    s = fresh_settings(settings, tmp_path, jobs_backend)
    with TestClient(create_app(s)) as c:
        services = c.app.state.services
        node = parse_process("hillshade", {"data": {"collection": "dem"}}, services.resolve)
        request = job_request(node, Region("OGC:CRS84", (0, 0, 10, 10), 100, 100), ("result", "statistics"),
                              services.lookup)
    store = open_job_store(s.jobs_backend, s.jobs_dir / "jobs")
    rec = store.create("hillshade", request)
    store.update(rec.jobID, status="running", message="running", attempts=1)  # its worker died here
    with TestClient(create_app(restarted(s, tmp_path))) as c:
        st = wait_job(c, f"/jobs/{rec.jobID}")
        assert st["status"] == "successful", st
        stats = c.get(f"/jobs/{rec.jobID}/results").json()["statistics"]
        assert stats["hillshade"]["count"] == 10000


def test_features_of_an_analysis_job_served_by_another_machine(settings, tmp_path, empty_jobs_db):
    """With PostgreSQL, a job's GeoJSON result is a features collection on a service that shares no
    disk with the one that ran it (it fetches the file from the database)."""
    s = fresh_settings(settings, tmp_path, empty_jobs_db)
    body = {"inputs": {"features": {"collection": "parcels"}, "statistics": ["mean", "count"]}}
    with TestClient(create_app(s)) as c:
        r = c.post("/processes/zonal-statistics/execution", json=body, headers={"Prefer": "respond-async"})
        st = wait_job(c, r.headers["location"].replace("http://testserver", ""), timeout=120)
        assert st["status"] == "successful", st
        cid = next(ln["href"] for ln in st["links"] if ln["rel"] == "collection").rsplit("/", 1)[1]
        here = c.get(f"/collections/{cid}/items", params={"limit": 1000}).json()
    with TestClient(create_app(restarted(s, tmp_path))) as c:
        there = c.get(f"/collections/{cid}/items", params={"limit": 1000}).json()
    assert there["numberMatched"] == here["numberMatched"] > 0
    assert there["features"] == here["features"]
