"""Deferred result collections: workflow graphs stored on disk under their stable hash.

A `response=collection` execution stores the graph and answers with its collection URI; nothing
is computed until a tile or coverage of it is requested. Stored on disk so every web worker and
every restart resolves the same URI. A stored graph expires `retention` seconds after it was last
stored (an identical re-POST renews it); an expired one leaves a tombstone, so its URI answers
410 Gone rather than 404, until the tombstone itself ages out.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from processes.engine.graph import Node, canonical, graph_hash

from .errors import Gone

_ID = re.compile(r"^[0-9a-f]{24}$")
TOMBSTONE_LIFE = 10  # tombstones live this many retention periods


class GraphStore:
    def __init__(self, root: Path, retention: float = float("inf")) -> None:
        self.root, self.retention = root, retention
        root.mkdir(parents=True, exist_ok=True)
        self._docs: dict[str, tuple[dict[str, Any], float]] = {}  # id -> (document, stored at): content is immutable

    def put(self, node: Node, meta: dict[str, Any]) -> str:
        gid = graph_hash(node)
        path = self.root / f"{gid}.json"
        if path.exists():
            os.utime(path)  # stored again: renewed
        else:
            doc = {"id": gid, "graph": canonical(node), **meta}
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f)
            os.replace(tmp, path)
        (self.root / f"{gid}.gone").unlink(missing_ok=True)
        self._docs.pop(gid, None)
        return gid

    def get(self, gid: str) -> dict[str, Any] | None:
        """The stored document; None if unknown; Gone (410) if it expired."""
        entry = self._docs.get(gid)
        if entry is not None and time.time() - entry[1] < self.retention:
            return entry[0]  # no file read per tile
        if not _ID.match(gid):
            return None
        path = self.root / f"{gid}.json"
        try:
            stored = path.stat().st_mtime
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            self._docs.pop(gid, None)
            if (self.root / f"{gid}.gone").exists():
                raise Gone(f"the workflow result '{gid}' expired (retention policy); execute the workflow again") from None
            return None
        if len(self._docs) < 10_000:
            self._docs[gid] = (doc, stored)
        return doc

    def ids(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.json"))

    def expire(self, now: float | None = None) -> list[str]:
        """Replace graphs stored longer ago than the retention by tombstones; drop old tombstones."""
        now = time.time() if now is None else now
        gone = []
        for path in self.root.glob("*.json"):
            try:
                if now - path.stat().st_mtime < self.retention:
                    continue
                (self.root / f"{path.stem}.gone").touch()
                path.unlink()
            except FileNotFoundError:  # expired by another web worker meanwhile
                continue
            self._docs.pop(path.stem, None)
            gone.append(path.stem)
        for path in self.root.glob("*.gone"):
            try:
                if now - path.stat().st_mtime > TOMBSTONE_LIFE * self.retention:
                    path.unlink()
            except FileNotFoundError:
                continue
        return gone

    def recent(self, n: int) -> list[str]:
        """The ids of the n most recently stored graphs, newest first."""
        stamped = []
        for p in self.root.glob("*.json"):
            try:
                stamped.append((p.stat().st_mtime, p.stem))
            except FileNotFoundError:
                continue
        return [gid for _, gid in sorted(stamped, reverse=True)[:n]]
