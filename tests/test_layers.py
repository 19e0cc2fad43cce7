"""The layering contracts in pyproject.toml hold (import-linter)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def test_import_contracts():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is part of the test extra"
    r = subprocess.run([exe], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
