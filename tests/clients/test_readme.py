"""The README's GDAL commands and QGIS addresses, run against the live server."""
from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import httpx
import pytest

from ._util import rgba
from .test_gdal import gdal

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
DOC_URL = "http://127.0.0.1:8000"


def section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def gdal_commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", section("GDAL"), re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


@pytest.mark.parametrize("command", gdal_commands())
def test_readme_gdal_command(live_server, tmp_path, monkeypatch, command):
    args = shlex.split(command.replace(DOC_URL, live_server.url))
    if shutil.which(args[0]) is None:
        pytest.skip(f"{args[0]} not installed (Debian gdal-bin; `make system-deps`)")
    monkeypatch.chdir(tmp_path)
    proc = gdal(*args)
    assert "ERROR" not in proc.stderr, proc.stderr
    if args[0] == "gdalinfo" and "/coverage?" in command:  # band names and the true-colour hint
        assert re.search(r"Band 3 .*ColorInterp=Red\n\s+Description = B04", proc.stdout), proc.stdout
    if args[0] == "ogrinfo":
        assert "parcels" in proc.stdout and "sentinel2" not in proc.stdout
    if "ps01.geojson" in args:
        assert '"PS01"' in (tmp_path / "ps01.geojson").read_text()
    if "parcels.gpkg" in args:
        pyogrio = pytest.importorskip("pyogrio")
        matched = httpx.get(f"{live_server.url}/collections/parcels/items?resulttype=hits", timeout=30).json()["numberMatched"]
        assert pyogrio.read_info(tmp_path / "parcels.gpkg")["features"] == matched


def test_readme_qgis_xyz_template(client):
    url = re.search(r"`(http://127\.0\.0\.1:8000/collections/dem/styles/[^`]+)`", section("QGIS")).group(1)
    r = client.get(url.replace(DOC_URL, "").format(z=3, y=2, x=4))
    assert r.status_code == 200 and rgba(r.content).std() > 0
