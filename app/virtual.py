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
        self._docs: dict[str, dict[str, Any]] = {}  # content is immutable (named by its hash)

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
        doc = self._docs.get(gid)
        if doc is not None or not _ID.match(gid):
            return doc
        try:
            doc = json.loads((self.root / f"{gid}.json").read_text())
        except FileNotFoundError:
            return None
        if len(self._docs) < 10_000:
            self._docs[gid] = doc
        return doc

    def ids(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.json"))
