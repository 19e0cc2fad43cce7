"""The web pages in a real browser (headless chromium via selenium) against the live server: lists
link to their entries, maps load their tiles (Leaflet served from /static), features are drawn,
a process runs from its page, errors and the API documentation render."""
from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402

LOADED_TILES = """return Array.from(document.querySelectorAll('#map img.leaflet-tile'))
                  .filter(i => i.complete && i.naturalWidth > 0).length"""
TILE_REQUESTS = """return performance.getEntriesByType('resource').map(e => e.name)
                   .filter(n => n.includes('/map/tiles/'))"""


def screenshot(driver, tmp_path: Path, name: str) -> None:
    """Into the test's tmp dir, or $SCREENSHOT_DIR when set (to look at the pages)."""
    out = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(out / name))


def wait_for(driver, script: str, ok=bool, timeout: float = 60):
    deadline = time.time() + timeout
    value = None
    while time.time() < deadline:
        value = driver.execute_script(script)
        if ok(value):
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {script!r} (last value {value!r})")


def open_page(driver, url: str) -> None:
    driver.get(url)
    assert "geodeferred" in driver.title, driver.page_source[:500]


def entry_links(driver) -> dict[str, str]:
    return {a.text: a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "#entries a")}


def assert_map_tiles(driver, prefix: str) -> list[str]:
    assert wait_for(driver, "return typeof L === 'object' && document.querySelector('#map.leaflet-container') !== null")
    assert wait_for(driver, LOADED_TILES, lambda n: n >= 1) >= 1
    requested = driver.execute_script(TILE_REQUESTS)
    assert requested and all(u.startswith(prefix) for u in requested), requested
    return requested


def test_collections_list_links_to_each_collection_and_its_map(browser, live_server, tmp_path):
    open_page(browser, f"{live_server.url}/collections")
    ids = [c["id"] for c in httpx.get(f"{live_server.url}/collections", timeout=30).json()["collections"]]
    links = entry_links(browser)
    assert sorted(h.rsplit("/", 1)[1] for h in links.values()) == sorted(ids)
    browser.find_element(By.LINK_TEXT, next(t for t, h in links.items() if h.endswith("/dem"))).click()
    assert browser.current_url.endswith("/collections/dem")
    assert_map_tiles(browser, f"{live_server.url}/collections/dem/map/tiles/WebMercatorQuad/")
    # the styles are a layer switcher; picking hillshade loads styled tiles
    wait_for(browser, "return document.querySelectorAll('.leaflet-control-layers-base input').length", lambda n: n > 3)
    label = next(lb for lb in browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-base label")
                 if lb.get_attribute("textContent").strip() == "Hillshade")
    browser.execute_script("arguments[0].click()", label.find_element(By.TAG_NAME, "input"))
    wait_for(browser, LOADED_TILES.replace("img.leaflet-tile'", "img.leaflet-tile[src*=\\'/styles/hillshade/map/tiles/\\']'"),
             lambda n: n >= 1)
    screenshot(browser, tmp_path, "dem.png")


def test_feature_items_page_draws_the_features(browser, live_server):
    open_page(browser, f"{live_server.url}/collections/parcels")
    browser.find_element(By.PARTIAL_LINK_TEXT, "features (GeoJSON)").click()
    assert "/collections/parcels/items" in browser.current_url
    matched = httpx.get(f"{live_server.url}/collections/parcels/items?resulttype=hits", timeout=30).json()["numberMatched"]
    drawn = wait_for(browser, "return document.querySelectorAll('#map path.leaflet-interactive').length", lambda n: n > 0)
    assert drawn == matched


def test_tileset_and_sentinel2_pages_load_tiles(browser, live_server):
    open_page(browser, f"{live_server.url}/collections/dem/map/tiles/WorldCRS84Quad")
    assert_map_tiles(browser, f"{live_server.url}/collections/dem/map/tiles/WebMercatorQuad/")
    open_page(browser, f"{live_server.url}/collections/sentinel2/styles/ndvi")
    assert_map_tiles(browser, f"{live_server.url}/collections/sentinel2/styles/ndvi/map/tiles/WebMercatorQuad/")


def test_process_page_runs_a_deferred_workflow_and_results_list_it(browser, live_server, tmp_path):
    open_page(browser, f"{live_server.url}/processes")
    links = entry_links(browser)
    ids = {p["id"] for p in httpx.get(f"{live_server.url}/processes", timeout=30).json()["processes"]}
    assert {h.rsplit("/", 1)[1] for h in links.values()} == ids
    browser.get(links["Hillshade"])
    browser.find_element(By.CSS_SELECTOR, "button[value=collection]").click()
    wait_for(browser, "return /\\/collections\\/[0-9a-f]{24}$/.test(location.pathname)")
    gid = browser.current_url.rsplit("/", 1)[1]
    assert_map_tiles(browser, f"{live_server.url}/collections/{gid}/map/tiles/WebMercatorQuad/")
    screenshot(browser, tmp_path, "workflow.png")
    open_page(browser, f"{live_server.url}/results")
    hrefs = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#entries a")]
    assert any(h.endswith(f"/collections/{gid}") for h in hrefs)  # titles repeat: look at every link


def test_job_pages_show_progress_and_link_results(browser, live_server):
    body = {"inputs": {"data": {"collection": "dem"}, "bbox": [0, 40, 10, 45], "width": 64}}
    r = httpx.post(f"{live_server.url}/processes/slope/execution", json=body, headers={"Prefer": "respond-async"}, timeout=60)
    job_url = r.headers["location"]
    open_page(browser, f"{live_server.url}/jobs")
    assert job_url in entry_links(browser).values()
    browser.get(job_url)
    wait_for(browser, "return document.getElementById('job-status').textContent",  # the page refreshes itself
             lambda t: t and "successful" in t, timeout=120)
    assert browser.find_element(By.TAG_NAME, "progress").get_attribute("value") == "100"
    browser.find_element(By.LINK_TEXT, "Results").click()
    result = browser.find_element(By.LINK_TEXT, "result").get_attribute("href")
    assert httpx.get(result, timeout=60).headers["content-type"].startswith("image/tiff")


def test_error_page_and_api_documentation(browser, live_server, tmp_path):
    open_page(browser, f"{live_server.url}/collections/nope")
    assert browser.find_element(By.TAG_NAME, "h1").text == "404 Not found"
    assert "unknown collection 'nope'" in browser.page_source
    browser.get(f"{live_server.url}/api")  # a browser's Accept asks for the interactive documentation
    ops = wait_for(browser, "return document.querySelectorAll('.opblock').length", lambda n: n > 20)
    assert ops > 20
    assert "/collections/{cid}/styles/{sid}/map/tiles/{tms}/{z}/{y}/{x}" in browser.page_source
    scripts = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert scripts and all(s.startswith(live_server.url) for s in scripts), scripts  # nothing from a CDN
    screenshot(browser, tmp_path, "api.png")
