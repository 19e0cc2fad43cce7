"""What both workflow-result stores share (ids, the per-process cache, expiry of the cache), and
the file store: `root/{id}.json` (its mtime: when it was last stored), `root/{id}.gone` tombstones."""
from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from ..engine.graph import Node, canonical, graph_hash

ID = re.compile(r"^[0-9a-f]{24}$")
TOMBSTONE_LIFE = 10  # tombstones live this many retention periods
GONE: Literal["gone"] = "gone"
Found = tuple[dict[str, Any], float] | Literal["gone"] | None  # (document, stored at) | tombstone | unknown


class GraphExpired(Exception):
    """The stored workflow result expired (retention policy): 410 Gone."""


class StoredGraphs:
    """put/get of workflow documents; each store provides `_store`, `_load`, `expire`, `ids`, `recent`."""

    def __init__(self, retention: float) -> None:
        self.retention = retention
        self._docs: dict[str, tuple[dict[str, Any], float]] = {}  # id -> (document, stored at): content is immutable

    def put(self, node: Node, meta: dict[str, Any]) -> str:
        """Store (or renew) the graph; returns its id, the collection id of the result."""
        gid = graph_hash(node)
        self._store(gid, {"id": gid, "graph": canonical(node), **meta})
        self._docs.pop(gid, None)
        return gid

    def get(self, gid: str) -> dict[str, Any] | None:
        """The stored document; None if unknown; GraphExpired if it expired."""
        entry = self._docs.get(gid)
        if entry is not None and time.time() - entry[1] < self.retention:
            return entry[0]  # no read per tile: until the stored graph is due to expire
        if not isinstance(gid, str) or not ID.match(gid):
            return None
        found = self._load(gid)
        if found is None or found == GONE:
            self._docs.pop(gid, None)
            if found == GONE:
                raise GraphExpired(f"the workflow result '{gid}' expired (retention policy); execute the workflow again")
            return None
        if len(self._docs) < 10_000:
            self._docs[gid] = found
        return found[0]

    def _forget(self, gids: list[str]) -> list[str]:
        for gid in gids:
            self._docs.pop(gid, None)
        return gids

    # -- what each store provides ---------------------------------------------------
    def _store(self, gid: str, doc: dict[str, Any]) -> None:
        """Store the document, or renew its storage time if it is there; remove any tombstone."""
        raise NotImplementedError

    def _load(self, gid: str) -> Found:
        raise NotImplementedError

    def expire(self, now: float | None = None) -> list[str]:
        """Replace graphs stored longer ago than the retention by tombstones; drop old tombstones."""
        raise NotImplementedError

    def ids(self) -> list[str]:
        raise NotImplementedError

    def recent(self, n: int) -> list[str]:
        """The ids of the n most recently stored graphs, newest first."""
        raise NotImplementedError


class GraphStore(StoredGraphs):
    """One JSON file per graph in a folder the web workers of one machine (or a shared disk) share."""

    def __init__(self, root: Path, retention: float = float("inf")) -> None:
        super().__init__(retention)
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _store(self, gid: str, doc: dict[str, Any]) -> None:
        path = self.root / f"{gid}.json"
        if path.exists():
            os.utime(path)  # stored again: renewed
        else:
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f)
            os.replace(tmp, path)
        (self.root / f"{gid}.gone").unlink(missing_ok=True)

    def _load(self, gid: str) -> Found:
        path = self.root / f"{gid}.json"
        try:
            stored = path.stat().st_mtime
            return json.loads(path.read_text()), stored
        except FileNotFoundError:
            return GONE if (self.root / f"{gid}.gone").exists() else None

    def ids(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.json"))

    def expire(self, now: float | None = None) -> list[str]:
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
            gone.append(path.stem)
        for path in self.root.glob("*.gone"):
            try:
                if now - path.stat().st_mtime > TOMBSTONE_LIFE * self.retention:
                    path.unlink()
            except FileNotFoundError:
                continue
        return self._forget(gone)

    def recent(self, n: int) -> list[str]:
        stamped = []
        for p in self.root.glob("*.json"):
            try:
                stamped.append((p.stat().st_mtime, p.stem))
            except FileNotFoundError:
                continue
        return [gid for _, gid in sorted(stamped, reverse=True)[:n]]
