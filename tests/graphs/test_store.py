"""The stored-workflow-result contract, against both stores (files; a real PostgreSQL on loopback):
ids are the graph hash, any replica resolves what another stored, listing newest first, expiry by
age into a tombstone (GraphExpired: the 410) seen by every replica, renewal by storing again, and
tombstones ageing out."""
from __future__ import annotations

import time

import pytest

from processes.engine.graph import CollectionNode, canonical, graph_hash
from processes.graphs import TOMBSTONE_LIFE, AnyGraphStore, GraphExpired, GraphStore, PgGraphStore, open_graph_store


def node(i: int) -> CollectionNode:
    return CollectionNode(f"c{i}")


def make(backend: str, tmp_path, retention: float = float("inf")) -> tuple[AnyGraphStore, AnyGraphStore]:
    """A store and the same store seen by another replica (files: the same folder; PostgreSQL: the
    same database, nothing shared in memory)."""
    a = open_graph_store(backend, tmp_path / "graphs", retention)
    b = GraphStore(a.root, retention) if isinstance(a, GraphStore) else PgGraphStore(a.dsn, retention)
    return a, b


def test_put_gives_the_graph_hash_and_any_replica_reads_it(jobs_backend, tmp_path):
    a, b = make(jobs_backend, tmp_path)
    n = node(1)
    gid = a.put(n, {"title": "t", "process": "p"})
    assert gid == graph_hash(n)
    for store in (a, b):
        assert store.get(gid) == {"id": gid, "graph": canonical(n), "title": "t", "process": "p"}
    assert a.put(n, {"title": "t", "process": "p"}) == gid  # idempotent
    assert b.ids() == [gid]


@pytest.mark.parametrize("bad", ["0" * 24, "nope", "0" * 23, "../" + "0" * 24, "A" * 24, None])
def test_unknown_or_malformed_ids_are_none(jobs_backend, tmp_path, bad):
    a, _ = make(jobs_backend, tmp_path)
    assert a.get(bad) is None


def test_recent_is_newest_first(jobs_backend, tmp_path):
    a, b = make(jobs_backend, tmp_path)
    ids = []
    for i in range(4):
        ids.append(a.put(node(i), {}))
        time.sleep(0.02)  # distinct storage times (file mtimes, database timestamps)
    assert b.recent(3) == ids[::-1][:3]
    b.put(node(0), {})  # stored again: newest
    assert a.recent(1) == [ids[0]]
    assert sorted(a.ids()) == sorted(ids)


def test_expiry_is_seen_by_every_replica_and_storing_again_renews(jobs_backend, tmp_path):
    retention = 1.0
    a, b = make(jobs_backend, tmp_path, retention)
    old, young = a.put(node(1), {}), None
    assert b.get(old) is not None  # cached by the other replica
    time.sleep(retention / 2)
    young = a.put(node(2), {})
    time.sleep(retention / 2 + 0.1)
    assert a.expire() == [old]  # only the one stored longer ago than the retention
    for store in (a, b, make(jobs_backend, tmp_path, retention)[1]):
        with pytest.raises(GraphExpired, match="expired"):
            store.get(old)
        assert store.get(young) is not None
    assert old not in b.ids() and old not in b.recent(10)
    assert b.put(node(1), {}) == old  # stored again through the other replica: back for both
    assert a.get(old) is not None and a.expire() == []  # renewed: young again; the other not yet old


def test_tombstones_age_out(jobs_backend, tmp_path):
    a, b = make(jobs_backend, tmp_path, 60)
    gid = a.put(node(1), {})
    assert a.expire(now=time.time() + 61) == [gid]
    with pytest.raises(GraphExpired):
        b.get(gid)
    assert a.expire(now=time.time() + 61 + TOMBSTONE_LIFE * 60 + 1) == []
    assert b.get(gid) is None  # long gone: unknown again


def test_no_retention_never_expires(jobs_backend, tmp_path):
    a, _ = make(jobs_backend, tmp_path)
    gid = a.put(node(1), {})
    assert a.expire(now=time.time() + 1e9) == [] and a.get(gid) is not None
