"""The burned-area analysis against the generator's truth: per protected site and fire year the
detected hectares within 5 % of the true burned area, less than 1 ha on the sites that did not
burn (the harvested cropland site included); the same numbers as a job, in CSV and as a features
collection; bad inputs are 400s naming the problem."""
from __future__ import annotations

import csv
import io

import pytest
from shapely.geometry import shape

from demodata import truth

from .app.jobs_util import wait_job

EXEC = "/processes/burned-area/execution"
FIRES = {2022: "F2022-01", 2023: "F2023-01"}
CLASSES = ("low_ha", "moderate_low_ha", "moderate_high_ha", "high_ha")


@pytest.fixture(scope="module")
def job_sites(client):
    r = client.post(EXEC, json={"inputs": {"years": "2022/2023", "perimeters": True}}, headers={"Prefer": "respond-async"})
    assert r.status_code == 201, r.text
    st = wait_job(client, r.headers["location"], timeout=300)
    assert st["status"] == "successful", st
    coll = next(ln["href"] for ln in st["links"] if ln["rel"] == "collection")
    items = client.get(f"{coll}/items", params={"limit": 100}).json()["features"]
    return {f["id"]: f["properties"] for f in items}, coll, st


def test_burned_hectares_per_site_and_year_match_the_truth(job_sites):
    sites, _, _ = job_sites
    want = truth.site_burned_ha()
    assert set(want) < set(sites)  # the sites outside the imagery are listed too
    for sid, per_fire in want.items():
        rows = {r["year"]: r for r in sites[sid]["series"]}
        assert sorted(rows) == [2022, 2023]
        for year, fid in FIRES.items():
            got, true = rows[year]["burned_ha"], per_fire[fid]
            if true > 0:
                assert got == pytest.approx(true, rel=0.05), (sid, year)
            else:
                assert got < 1.0, (sid, year, got)  # PS06 is harvested cropland: no false burn
            assert sum(rows[year][c] for c in CLASSES) == pytest.approx(got, abs=1e-3)
            assert rows[year]["burned_share"] == pytest.approx(got / sites[sid]["area_ha"], abs=1e-5)
        assert sites[sid]["burned_more_than_once_ha"] < 1.0  # the two fires do not overlap
        assert sites[sid]["burned_any_year_ha"] == pytest.approx(per_fire["total"], rel=0.05, abs=1.0)
    assert rows_of(sites, "PS06", 2023)["assessed_share"] < 0.5  # cropland is not assessed
    assert rows_of(sites, "PS03", 2023)["high_ha"] + rows_of(sites, "PS03", 2023)["moderate_high_ha"] > 0.5 * 62
    outside = [sid for sid in sites if sid not in want]
    assert outside and all(r["burned_ha"] is None and r["assessed_share"] == 0
                           for sid in outside for r in sites[sid]["series"])


def rows_of(sites, sid, year):
    return next(r for r in sites[sid]["series"] if r["year"] == year)


def test_sync_csv_of_one_site_equals_the_job(client, job_sites):
    sites, coll, _ = job_sites
    inputs = {"years": [2022, 2023], "sites": {"collection": "protected_sites", "filter": "id = 'PS03'"}}
    r = client.post(EXEC, json={"inputs": inputs, "outputs": {"result": {"format": {"mediaType": "text/csv"}}}})
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["id"], int(row["year"])) for row in rows] == [("PS03", 2022), ("PS03", 2023)]
    for row in rows:
        want = rows_of(sites, "PS03", int(row["year"]))
        assert float(row["burned_ha"]) == pytest.approx(want["burned_ha"], abs=1e-4)
    filtered = client.get(f"{coll}/items", params={"filter": "burned_any_year_ha > 10"}).json()["features"]
    assert sorted(f["id"] for f in filtered) == sorted(s for s, v in truth.site_burned_ha().items() if v["total"] > 10)


@pytest.mark.parametrize("inputs,words", [
    ({"years": "2022/2023", "sites": {"collection": "protected_sites", "filter": "id = 'PS99'"}}, ["no site matches"]),
    ({"years": "2022/2023", "sites": {"collection": "protected_sites", "filter": "colour = 'red'"}}, ["colour"]),
    ({"years": "2022/2023", "sites": {"collection": "nowhere"}}, ["nowhere"]),
    ({"years": "2020/2023"}, ["no scene", "2020"]),
    ({"years": "2023/2022"}, ["years", "ends before"]),
    ({"years": "2023", "thresholds": [0.66, 0.44, 0.27, 0.1, -0.1, -0.25]}, ["thresholds", "increasing"]),
    ({"years": "2023", "season": "09-31/10-31"}, ["season"]),
    ({"years": "2023", "colour": "red"}, ["colour"]),
])
def test_bad_inputs_are_400_naming_the_problem(client, inputs, words):
    r = client.post(EXEC, json={"inputs": inputs})
    assert r.status_code == 400, r.text
    detail = r.json()["detail"]
    assert all(w in detail for w in words), detail


def test_perimeters_are_a_features_collection_of_the_burned_polygons(client, job_sites):
    sites, coll, status = job_sites
    links = [ln["href"] for ln in status["links"] if ln["rel"] == "collection"]
    assert f"{coll}-perimeters" in links
    doc = client.get(f"{coll}-perimeters/items", params={"limit": 100}).json()
    got = {f["id"]: f for f in doc["features"]}
    burned = {(sid, r["year"]): r["burned_ha"] for sid, p in sites.items() for r in p["series"] if r["burned_ha"]}
    assert sorted(got) == sorted(f"{sid}-{year}" for (sid, year), ha in burned.items() if ha > 0)
    site_shapes = {f["id"]: shape(f["geometry"]) for f in client.get("/collections/protected_sites/items").json()["features"]}
    for (sid, year), ha in burned.items():
        f = got[f"{sid}-{year}"]
        assert f["properties"]["site"] == sid and f["properties"]["year"] == year
        # polygons of whole pixels vs exact pixel coverage of the site: the same area within 2 %
        assert f["properties"]["burned_ha"] == pytest.approx(ha, rel=0.02)
        geom = shape(f["geometry"])
        assert geom.is_valid and site_shapes[sid].buffer(1e-9).contains(geom)
        true = truth.site_burned_ha()[sid][FIRES[year]]
        assert f["properties"]["burned_ha"] == pytest.approx(true, rel=0.05)
