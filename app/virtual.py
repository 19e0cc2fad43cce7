"""Deferred result collections: workflow graphs stored on disk under their stable hash.

A `response=collection` execution stores the graph and answers with its collection URI; nothing
is computed until a tile or coverage of it is requested. Stored on disk so every web worker and
every restart resolves the same URI.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from processes.engine.graph import Node, canonical, graph_hash

_ID = re.compile(r"^[0-9a-f]{24}$")


class GraphStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def put(self, node: Node, meta: dict[str, Any]) -> str:
        gid = graph_hash(node)
        path = self.root / f"{gid}.json"
        if not path.exists():
            doc = {"id": gid, "graph": canonical(node), **meta}
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f)
            os.replace(tmp, path)
        return gid

    def get(self, gid: str) -> dict[str, Any] | None:
        if not _ID.match(gid):
            return None
        path = self.root / f"{gid}.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None

    def ids(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.json"))
