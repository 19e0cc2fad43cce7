"""What both deployed-process stores share (`version`: what a process computes now, nested
published processes included), and the file store: one `<id>.json` per process, written
atomically (a new id is linked into place, so two workers cannot both create it); every worker
reads the same files, so a deploy, replace or undeploy is seen at once by all of them and after
restarts."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..ops import REGISTRY
from .package import ID, Deployed, DuplicateProcess, NoSuchDeployed, process_ids


def deployed_of(doc: dict[str, Any]) -> Deployed:
    """A stored document (`Deployed.to_json()` plus its digest) -> the Deployed."""
    return Deployed(doc["id"], doc["title"], doc["description"], doc["version"], doc["workflow"], doc["inputs"],
                    doc["digest"])


def stored_doc(d: Deployed) -> dict[str, Any]:
    return d.to_json() | {"digest": d.digest}


def duplicate(pid: str) -> DuplicateProcess:
    return DuplicateProcess(f"process '{pid}' exists; replace it with PUT /processes/{pid}")


def no_such(pid: str, replacing: bool = False) -> NoSuchDeployed:
    if replacing:
        return NoSuchDeployed(f"no deployed process '{pid}' to replace; deploy it with POST /processes")
    return NoSuchDeployed(f"no deployed process '{pid}'")


class DeployedProcesses:
    """create / replace / delete / get / ids of deployed processes; `version` on top of `get`."""

    def create(self, d: Deployed) -> None:
        """Store a new process; DuplicateProcess if the id exists."""
        raise NotImplementedError

    def replace(self, d: Deployed) -> None:
        """Replace a process; NoSuchDeployed if nobody deployed it."""
        raise NotImplementedError

    def delete(self, pid: str) -> None:
        """Undeploy; NoSuchDeployed if nobody deployed it."""
        raise NotImplementedError

    def get(self, pid: str) -> Deployed | None:
        raise NotImplementedError

    def ids(self) -> list[str]:
        raise NotImplementedError

    def version(self, d: Deployed, seen: frozenset[str] = frozenset()) -> str:
        """Names what `d` computes now: its digest and the versions of the published processes it
        nests (replacing one of those is a new version of `d` too)."""
        seen = seen | {d.id}
        inner = [self.get(pid) for pid in sorted(process_ids(d.workflow) - seen - set(REGISTRY))]
        parts = [d.digest] + [self.version(i, seen) for i in inner if i is not None]
        return d.digest if len(parts) == 1 else hashlib.sha256(" ".join(parts).encode()).hexdigest()[:24]


class DeployedStore(DeployedProcesses):
    """One `<id>.json` per deployed process; atomic writes; every worker and restart sees the same."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._cache: dict[str, tuple[tuple[int, int, int], Deployed]] = {}

    def _path(self, pid: str) -> Path:
        if not isinstance(pid, str) or not ID.match(pid):
            raise no_such(pid)
        return self.root / f"{pid}.json"

    def _write_temp(self, d: Deployed) -> str:
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(stored_doc(d), f)
            f.flush()
            os.fsync(f.fileno())
        return tmp

    def create(self, d: Deployed) -> None:
        tmp = self._write_temp(d)
        try:
            os.link(tmp, self._path(d.id))  # fails if the id exists: no lost race between workers
        except FileExistsError:
            raise duplicate(d.id) from None
        finally:
            os.unlink(tmp)

    def replace(self, d: Deployed) -> None:
        if not self._path(d.id).exists():
            raise no_such(d.id, replacing=True)
        os.replace(self._write_temp(d), self._path(d.id))

    def delete(self, pid: str) -> None:
        try:
            self._path(pid).unlink()
        except FileNotFoundError:
            raise no_such(pid) from None
        self._cache.pop(pid, None)

    def get(self, pid: str) -> Deployed | None:
        try:
            path = self._path(pid)
            st = path.stat()
        except (NoSuchDeployed, FileNotFoundError):
            return None
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        hit = self._cache.get(pid)
        if hit is not None and hit[0] == key:
            return hit[1]
        try:
            d = deployed_of(json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        self._cache[pid] = (key, d)
        return d

    def ids(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.json"))
