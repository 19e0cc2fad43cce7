"""The deployed-process store contract, against both stores (files; a real PostgreSQL on loopback):
what one replica deploys, replaces or undeploys every other sees at once; ids are unique even when
replicas race; a process's version follows the published processes it nests."""
from __future__ import annotations

import threading

import pytest

from processes.deployed import (AnyDeployedStore, DeployedStore, DuplicateProcess, NoSuchDeployed, PgDeployedStore,
                                open_deployed_store, package)


def pkg(pid: str, azimuth: float = 300, inner: str | None = None):
    data = {"process": inner, "inputs": {}} if inner else {"collection": "dem"}
    return package({"processDescription": {"id": pid, "title": f"{pid} shading",
                                           "inputs": {"az": {"schema": {"default": azimuth}}}},
                    "executionUnit": {"value": {"process": "hillshade",
                                                "inputs": {"data": data, "azimuth": {"$input": "az"}}}}})


@pytest.fixture
def stores(jobs_backend, tmp_path) -> tuple[AnyDeployedStore, AnyDeployedStore]:
    """A store and the same store seen by another replica."""
    a = open_deployed_store(jobs_backend, tmp_path / "deployed")
    return a, DeployedStore(a.root) if isinstance(a, DeployedStore) else PgDeployedStore(a.dsn)


def test_deployed_on_one_replica_is_there_on_the_other(stores):
    a, b = stores
    d = pkg("shade")
    a.create(d)
    got = b.get("shade")
    assert got == d and got.defaults() == {"az": 300} and got.expand({"az": 10})[1]["azimuth"] == 10
    assert b.ids() == ["shade"] and b.version(got) == d.digest
    with pytest.raises(DuplicateProcess, match="exists"):
        b.create(pkg("shade", 10))
    assert a.get("shade") == d  # the refused duplicate changed nothing


def test_replace_and_delete_through_one_replica_are_seen_by_the_other(stores):
    a, b = stores
    a.create(pkg("shade"))
    a.get("shade")  # read (and cached) before the change
    new = pkg("shade", 45)
    b.replace(new)
    assert a.get("shade") == new and a.get("shade").defaults() == {"az": 45}
    b.delete("shade")
    assert a.get("shade") is None and a.ids() == []
    with pytest.raises(NoSuchDeployed):
        a.delete("shade")
    with pytest.raises(NoSuchDeployed, match="to replace"):
        a.replace(new)


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "1abc", "x" * 65, None])
def test_bad_ids_are_unknown(stores, bad):
    a, _ = stores
    assert a.get(bad) is None
    with pytest.raises(NoSuchDeployed):
        a.delete(bad)


def test_racing_creates_one_wins(stores):
    a, b = stores
    barrier, outcomes = threading.Barrier(6), []

    def create(store, i):
        barrier.wait()
        try:
            store.create(pkg("race", i))
            outcomes.append(i)
        except DuplicateProcess:
            pass

    threads = [threading.Thread(target=create, args=((a, b)[i % 2], i)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 1 and b.get("race").defaults() == {"az": outcomes[0]}


def test_version_follows_nested_published_processes(stores):
    a, b = stores
    a.create(pkg("inner"))
    a.create(pkg("outer", inner="inner"))
    before = a.version(a.get("outer"))
    assert before != a.get("outer").digest  # it names the nested process's version too
    b.replace(pkg("inner", 10))
    after = a.version(a.get("outer"))
    assert after != before and b.version(b.get("outer")) == after
