"""`make serve` installs only when pyproject.toml changed (stamp files), checked with `make -n`."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")


def plan(work: Path, target: str) -> str:
    return subprocess.run([MAKE, "-n", target, "VENV=venv"], cwd=work, capture_output=True, text=True,
                          timeout=30, check=True).stdout


@pytest.mark.skipif(MAKE is None, reason="make not installed")
def test_serve_reinstalls_only_when_pyproject_changes(tmp_path):
    (tmp_path / "client").mkdir()
    for name in ("Makefile", "pyproject.toml", "client/pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").write_text("")  # the venv exists
    assert "pip install -q -e ." in plan(tmp_path, "serve")  # first start: install
    (tmp_path / "venv" / ".installed").touch()
    assert "pip install" not in plan(tmp_path, "serve")  # nothing changed: straight to gunicorn
    assert "gunicorn" in plan(tmp_path, "serve")
    later = time.time() + 5
    os.utime(tmp_path / "pyproject.toml", (later, later))
    assert "pip install -q -e ." in plan(tmp_path, "serve")  # dependencies changed: install again
    assert 'pip install -q -e ".[notebooks]"' in plan(tmp_path, "notebooks")
