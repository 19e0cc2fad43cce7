"""The STAC API through real clients on a live server: pystac-client searches (against expectations
computed from the Item files), asset hrefs read by rasterio and GDAL's CLI over HTTP range
requests, and stac-api-validator for every conformance class the API declares."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pystac_client
import pytest
import rasterio

from tests.clients.stac_util import COLLECTION, check_searches, item_docs, when

VALIDATOR_CLASSES = {  # conformance URI in /stac/conformance -> stac-api-validator --conformance
    "https://api.stacspec.org/v1.0.0/core": "core",
    "https://api.stacspec.org/v1.0.0/collections": "collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features": "features",
    "https://api.stacspec.org/v1.0.0/item-search": "item-search",
    "https://api.stacspec.org/v1.0.0/item-search#sort": "item-search#sort",
    "https://api.stacspec.org/v1.0.0/item-search#fields": "item-search#fields",  # validated if declared
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter": "filter",
}
OFFLINE = re.compile(r"schemas\.stacspec\.org|cdn\.staclint\.com|stac-extensions\.github\.io")


def stac_folder(server) -> Path:
    return server.server.config.app.state.services.catalog.rasters[COLLECTION].stac_folder


def test_pystac_client_search_finds_exactly_the_expected_items(live_server):
    check_searches(live_server.url + "/stac", item_docs(stac_folder(live_server)))


def test_items_keep_their_metadata_and_link_readable_assets(live_server, tmp_path):
    docs = item_docs(stac_folder(live_server))
    client = pystac_client.Client.open(live_server.url + "/stac")
    items = list(client.search(collections=[COLLECTION], max_items=len(docs) + 10).items_as_dicts())  # as served
    assert {i["id"] for i in items} == set(docs)
    item = items[0]
    source = docs[item["id"]]
    for key, value in source["properties"].items():  # eo:cloud_cover, proj:*...
        if key != "datetime":
            assert item["properties"][key] == value, key
    assert when(item) == when(source)  # the same instant ("Z" may come back as "+00:00")
    assert {"eo:cloud_cover", "proj:epsg", "proj:transform"} <= set(item["properties"])
    for key, asset in source["assets"].items():
        served = item["assets"][key]
        for field in ("eo:bands", "raster:bands", "type", "roles", "title"):
            assert served.get(field) == asset.get(field), (key, field)
        assert served["href"].startswith(live_server.url + "/assets/"), served["href"]
    assert any("raster:bands" in a for a in item["assets"].values())
    thumbs = [a for a in item["assets"].values() if "thumbnail" in a.get("roles", [])]
    assert len(thumbs) == 1
    png = httpx.get(thumbs[0]["href"], timeout=30)
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    # rasterio (GDAL /vsicurl/ with range requests) reads the same pixels as the local file
    key = next(k for k, a in source["assets"].items() if "data" in a.get("roles", []))
    local = Path(stac_folder(live_server)) / Path(source["assets"][key]["href"]).name
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), rasterio.open(item["assets"][key]["href"]) as remote, \
            rasterio.open(local) as disk:
        window = ((100, 228), (300, 428))
        assert remote.profile["width"] == disk.profile["width"] and remote.crs == disk.crs
        np.testing.assert_array_equal(remote.read(window=window), disk.read(window=window))


def test_gdal_cli_reads_an_asset_over_vsicurl(live_server, say):
    if shutil.which("gdalinfo") is None:
        pytest.skip("gdalinfo (Debian gdal-bin) is not installed")
    docs = item_docs(stac_folder(live_server))
    doc = docs[sorted(docs)[0]]
    item = httpx.get(f"{live_server.url}/stac/collections/{COLLECTION}/items/{doc['id']}", timeout=30).json()
    key = next(k for k, a in doc["assets"].items() if "data" in a.get("roles", []))
    href = item["assets"][key]["href"]
    done = subprocess.run(["gdalinfo", "-json", "-stats", f"/vsicurl/{href}"], capture_output=True, text=True, timeout=120,
                          env={"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    with rasterio.open(Path(stac_folder(live_server)) / Path(doc["assets"][key]["href"]).name) as disk:
        assert info["size"] == [disk.width, disk.height]
        assert len(info["bands"]) == disk.count
        valid = disk.read(1, masked=True)
    assert info["bands"][0]["maximum"] == pytest.approx(float(valid.max()))
    say(f"gdalinfo {subprocess.run(['gdalinfo', '--version'], capture_output=True, text=True).stdout.strip()} "
        f"read {href}")


def run_validator(stac_url: str, declared: list[str]) -> subprocess.CompletedProcess:
    classes = [VALIDATOR_CLASSES[c] for c in declared if c in VALIDATOR_CLASSES]
    args = [sys.executable, "-m", "stac_api_validator", "--root-url", stac_url + "/", "--collection", COLLECTION,
            "--geometry", json.dumps({"type": "Point", "coordinates": [4.35, 43.43]}),
            "--fields-nested-property", "properties.eo:cloud_cover"]
    for c in classes:
        args += ["--conformance", c]
    return subprocess.run(args, capture_output=True, text=True, timeout=600)


def validator_errors(done: subprocess.CompletedProcess) -> list[str]:
    """The validator's errors, except JSON-schema fetches that fail offline (no network here).
    It exits 0 after crashing on a failed request ("Failed." and a trace): that is an error too."""
    text = done.stdout + done.stderr
    if "Failed." in text or "Traceback" in text:
        return [text[-3000:]]
    errors = text.split("Errors:", 1)[1].splitlines() if "Errors:" in text else []
    return [e for e in errors if e.startswith("- ") and not OFFLINE.search(e)]


def test_stac_api_validator_passes_every_declared_class(live_server, say):
    check_validator(live_server.url + "/stac", say)


def check_validator(stac_url: str, say) -> None:
    declared = httpx.get(stac_url + "/conformance", timeout=30).json()["conformsTo"]
    required = set(VALIDATOR_CLASSES) - {"https://api.stacspec.org/v1.0.0/item-search#fields"}
    assert required <= set(declared), required - set(declared)
    done = run_validator(stac_url, declared)
    text = done.stdout + done.stderr
    assert "Validating STAC API - Item Search - Filter Extension" in text, text[-3000:]
    assert validator_errors(done) == [], text[-5000:]
    checked = [c for c in declared if c in VALIDATOR_CLASSES]
    offline = sum(1 for line in text.splitlines() if line.startswith("- ") and OFFLINE.search(line))
    say(f"stac-api-validator {stac_url}: passed {len(checked)} classes; {offline} offline schema fetches skipped")
