"""GDAL as an OGC API - Features client (OAPIF driver): Debian 12's GDAL 3.6 command line (what
QGIS 3.22 uses) and pyogrio's bundled GDAL 3.12, against the live server."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import httpx
import pytest

from .test_gdal import gdal

OGRINFO, OGR2OGR = shutil.which("ogrinfo"), shutil.which("ogr2ogr")


@pytest.fixture(scope="module")
def ogr_cli(say) -> None:
    if OGRINFO is None or OGR2OGR is None:
        pytest.skip("GDAL command-line tools not installed (Debian package gdal-bin; `make system-deps`)")
    say(f"ogrinfo: {gdal(OGRINFO, '--version').stdout.strip()}")


def test_cli_lists_only_vector_collections_as_layers(live_server, ogr_cli):
    proc = gdal(OGRINFO, "-ro", "-so", f"OAPIF:{live_server.url}")
    layers = re.findall(r"^\d+: (\w+)", proc.stdout, re.M)
    vectors = {c["id"] for c in httpx.get(f"{live_server.url}/collections", timeout=30).json()["collections"]
               if c.get("itemType") == "feature"}
    assert set(layers) == vectors and {"dem", "sentinel2"}.isdisjoint(layers)
    assert "ERROR" not in proc.stderr, proc.stderr


def test_cli_where_on_id_fetches_the_feature(live_server, ogr_cli, tmp_path):
    """GDAL 3.6 turns `-where "id = 'PS01'"` into GET {items href}/PS01."""
    out = tmp_path / "ps01.geojson"
    proc = gdal(OGR2OGR, "--debug", "on", "-f", "GeoJSON", str(out), f"OAPIF:{live_server.url}", "protected_sites",
                "-where", "id = 'PS01'")
    assert "/collections/protected_sites/items/PS01" in proc.stderr
    feats = json.loads(out.read_text())["features"]
    assert [f["properties"]["id"] for f in feats] == ["PS01"]


def test_cli_reads_every_parcel(live_server, ogr_cli, tmp_path):
    out = tmp_path / "parcels.geojson"
    gdal(OGR2OGR, "-f", "GeoJSON", str(out), f"OAPIF:{live_server.url}", "parcels")
    expected = httpx.get(f"{live_server.url}/collections/parcels/items?resulttype=hits", timeout=30).json()["numberMatched"]
    assert len(json.loads(out.read_text())["features"]) == expected > 200


def test_pyogrio_pages_by_the_advertised_maximum(live_server):
    """GDAL >= 3.7 reads the `limit` maximum from the API definition and asks for pages that large
    (capped by GDAL at 1000): the 243 parcels come in one page. Run in a child process: a GDAL read
    holds this process's GIL and the live server runs on one of its threads."""
    pytest.importorskip("pyogrio")
    code = ("import pyogrio, sys; df = pyogrio.read_dataframe(sys.argv[1], layer='parcels'); print(len(df))")
    proc = subprocess.run([sys.executable, "-c", code, f"OAPIF:{live_server.url}"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "CPL_DEBUG": "ON"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    matched = httpx.get(f"{live_server.url}/collections/parcels/items?resulttype=hits", timeout=30).json()["numberMatched"]
    assert int(proc.stdout.strip()) == matched
    pages = [int(v) for v in re.findall(r"Fetch\(\S+/collections/parcels/items\?limit=(\d+)", proc.stderr)]
    assert max(pages) >= matched and len([p for p in pages if p >= matched]) == 1, proc.stderr[-2000:]
