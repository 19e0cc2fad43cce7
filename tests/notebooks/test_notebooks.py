"""Every notebook runs top to bottom against a real gunicorn deployment (real HTTP, leafmap offline),
and is saved with its outputs."""
from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, notebook_server, monkeypatch, tmp_path):
    monkeypatch.setenv("GEODEFERRED_URL", notebook_server.url)
    nb = nbformat.read(path, as_version=4)
    t0 = time.monotonic()
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    print(f"notebook {path.name}: {time.monotonic() - t0:.1f} s")
    nbformat.write(nb, tmp_path / path.name)  # saved with its outputs
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    maps = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.output_type == "execute_result" and "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert maps, "the notebook shows its leafmap maps"
    assert nbformat.read(tmp_path / path.name, as_version=4).cells[-1].get("outputs") is not None
