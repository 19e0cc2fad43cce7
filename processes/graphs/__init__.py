"""Stored workflow results (Part 3 `response=collection`): deferred result collections whose graph
is stored under its stable hash; nothing is computed until a tile or coverage of it is requested.

Two stores with one interface (`open_graph_store`): `GraphStore` (the embedded default: one JSON
file per graph in a folder every web worker shares) and `PgGraphStore` (a `postgresql://` DSN: rows
of the service's database, so every replica resolves every result with no shared disk). A stored
graph expires `retention` seconds after it was last stored (an identical re-POST renews it); an
expired one leaves a tombstone, so its collection answers 410 Gone (`GraphExpired`) rather than 404,
until the tombstone itself ages out.
"""
from __future__ import annotations

from pathlib import Path

from .pg import PgGraphStore
from .store import TOMBSTONE_LIFE, GraphExpired, GraphStore, StoredGraphs

AnyGraphStore = GraphStore | PgGraphStore


def open_graph_store(backend: str, root: Path, retention: float = float("inf")) -> AnyGraphStore:
    """'embedded': files under `root`; a postgresql:// DSN: the database (migrated here)."""
    if backend == "embedded":
        return GraphStore(root, retention)
    store = PgGraphStore(backend, retention)
    store.migrate()
    return store


__all__ = ["TOMBSTONE_LIFE", "AnyGraphStore", "GraphExpired", "GraphStore", "PgGraphStore", "StoredGraphs",
           "open_graph_store"]
