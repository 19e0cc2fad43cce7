"""The HTML side of the documents (ASGI transport); the same pages in a real browser: tests/clients/test_browser.py."""
from __future__ import annotations

import html
import json
import re

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"}
IMG = {"Accept": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"}


def test_error_pages_for_browsers_and_problem_documents_for_the_rest(client):
    page = client.get("/collections/nope", headers=BROWSER)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "unknown collection &#39;nope&#39;" in page.text and "not-found" in page.text
    for headers in (IMG, {"Accept": "*/*"}, {}):
        r = client.get("/collections/nope", headers=headers)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert client.get("/collections/nope?f=html").headers["content-type"].startswith("text/html")
    tile = client.get("/collections/dem/map/tiles/WebMercatorQuad/30/0/0", headers=IMG)
    assert tile.status_code == 404 and tile.headers["content-type"] == "application/problem+json"


def test_api_docs_and_static_assets_are_local(client):
    page = client.get("/api", headers=BROWSER)
    assert page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page.text)
    assert assets and all(a.startswith("/static/") for a in assets)
    for a in assets:
        assert client.get(a).status_code == 200
    assert client.get("/api").headers["content-type"].startswith("application/vnd.oai.openapi+json")
    assert "BSD 2-Clause" in client.get("/static/leaflet/LICENSE").text
    assert client.get("/static/leaflet/leaflet.js").headers["content-type"].startswith(("application/javascript", "text/javascript"))


def test_pages_link_entries_and_never_a_template(client):
    page = client.get("/collections/dem/map/tiles/WebMercatorQuad", headers=BROWSER).text
    hrefs = re.findall(r'href="([^"]+)"', page)
    assert not any("{" in h for h in hrefs)  # templated links are shown, not clickable
    assert "{tileMatrix}" in page and 'id="map"' in page and "/static/leaflet/leaflet.js" in page
    jobs = client.get("/processes", headers=BROWSER).text
    assert re.search(r'<a href="http://testserver/processes/hillshade">', jobs)


def test_process_page_example_runs(client):
    page = client.get("/processes/normalized_difference", headers=BROWSER).text
    assert 'id="execute"' in page
    example = re.search(r'<textarea id="body"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    body = json.loads(html.unescape(example))
    assert body["inputs"]["data"]["collection"] == "sentinel2" and body["inputs"]["a"] == "B08"
    assert client.post("/processes/normalized_difference/execution", json=body).status_code == 200


def test_recent_results_list(client):
    r = client.post("/processes/aspect/execution?response=collection",
                    json={"inputs": {"data": {"collection": "dem"}}}, follow_redirects=False)
    gid = r.headers["location"].rsplit("/", 1)[1]
    doc = client.get("/results").json()
    assert gid in [e["id"] for e in doc["results"]]
    assert doc["results"][0]["links"][0]["href"].endswith(f"/collections/{doc['results'][0]['id']}")
    assert client.get("/results?limit=0").status_code == 400
