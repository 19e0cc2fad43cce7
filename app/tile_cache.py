"""Rendered-tile caches: an in-process LRU (default), a disk cache shared by every web worker of
a machine, or a Redis server shared by every replica of the service.

Keys already contain the graph hash, the data versions, the style and the tile address, so a
cached tile is never stale; the disk cache only needs a size bound, Redis its own `maxmemory`
with an LRU eviction policy (see deploy/). A cache that cannot be reached is a miss, not an error.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

log = logging.getLogger("geodeferred")


class TileCache(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, value: bytes) -> None: ...


class LruCache:
    """A thread-safe LRU bounded in entries."""

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._d: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            v = self._d.get(key)
            if v is not None:
                self._d.move_to_end(key)
            return v

    def put(self, key: str, value: bytes) -> None:
        if self.entries <= 0:
            return
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.entries:
                self._d.popitem(last=False)


class DiskCache:
    """Files named by the key's hash; atomic writes; oldest files dropped past `max_bytes`."""

    def __init__(self, root: Path, max_bytes: int = 1 << 30, check_every: int = 500) -> None:
        self.root, self.max_bytes, self.check_every = root, max_bytes, check_every
        root.mkdir(parents=True, exist_ok=True)
        self._puts = 0
        self._lock = threading.Lock()

    def _path(self, key: str) -> Path:
        h = hashlib.sha256(key.encode()).hexdigest()
        return self.root / h[:2] / h[2:]

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, key: str, value: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(value)
        os.replace(tmp, path)
        with self._lock:
            self._puts += 1
            due = self._puts % self.check_every == 0
        if due:
            self.trim()

    def trim(self) -> None:
        files = [(p.stat().st_mtime, p.stat().st_size, p) for p in self.root.glob("*/*") if p.suffix != ".tmp"]
        total = sum(s for _, s, _ in files)
        for _, size, p in sorted(files):
            if total <= self.max_bytes:
                break
            p.unlink(missing_ok=True)
            total -= size


class RedisCache:
    """Tiles in a Redis server under `geodeferred:tile:<sha256 of the key>`; short timeouts, and
    an unreachable server is a miss (the tile is computed) rather than a failed request."""

    PREFIX = "geodeferred:tile:"

    def __init__(self, url: str, timeout: float = 0.5) -> None:
        import redis  # only for deployments that use it

        self._errors = redis.RedisError
        self._r = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)

    def _key(self, key: str) -> str:
        return self.PREFIX + hashlib.sha256(key.encode()).hexdigest()

    def get(self, key: str) -> bytes | None:
        try:
            return self._r.get(self._key(key))
        except self._errors as exc:
            log.warning("tile cache unreachable (%s): computing instead", type(exc).__name__)
            return None

    def put(self, key: str, value: bytes) -> None:
        try:
            self._r.set(self._key(key), value)
        except self._errors as exc:
            log.warning("tile cache unreachable (%s): tile not stored", type(exc).__name__)


def make_tile_cache(spec: str, entries: int) -> TileCache:
    """'memory' (default), 'disk:/path[:max_megabytes]', 'redis://host:port/db' or 'none'."""
    if spec.startswith(("redis://", "rediss://", "unix://")):
        return RedisCache(spec)
    if spec == "memory":
        return LruCache(entries)
    if spec == "none":
        return LruCache(0)
    if spec.startswith("disk:"):
        rest = spec[5:]
        path, _, mb = rest.rpartition(":") if rest.rsplit(":", 1)[-1].isdigit() else (rest, "", "")
        return DiskCache(Path(path), int(mb) << 20 if mb else 1 << 30)
    raise ValueError(f"unknown tile cache '{spec}': use memory, none, disk:/path[:max_megabytes] or redis://host:port/db")
