"""Workflows shared as processes (OGC API - Processes Part 2 deploy/replace/undeploy, with a Part 3
workflow as the execution unit): the application package (`package`) and two stores with one
interface (`open_deployed_store`): `DeployedStore` (the embedded default: one JSON file per process
in a folder the web workers share) and `PgDeployedStore` (a `postgresql://` DSN: rows of the
service's database, shared by replicas that share no disk)."""
from __future__ import annotations

from pathlib import Path

from .package import (COLLECTION_KEYS, ID, MAX_PACKAGE, WORKFLOW_MEDIA, Deployed, DeployError, DuplicateProcess,
                      ImmutableProcess, NoSuchDeployed, package, placeholders, process_ids, validate)
from .pg import PgDeployedStore
from .store import DeployedProcesses, DeployedStore

AnyDeployedStore = DeployedStore | PgDeployedStore


def open_deployed_store(backend: str, root: Path) -> AnyDeployedStore:
    """'embedded': files under `root`; a postgresql:// DSN: the database (migrated here)."""
    if backend == "embedded":
        return DeployedStore(root)
    store = PgDeployedStore(backend)
    store.migrate()
    return store


__all__ = ["COLLECTION_KEYS", "ID", "MAX_PACKAGE", "WORKFLOW_MEDIA", "AnyDeployedStore", "DeployError", "Deployed",
           "DeployedProcesses", "DeployedStore", "DuplicateProcess", "ImmutableProcess", "NoSuchDeployed",
           "PgDeployedStore", "open_deployed_store", "package", "placeholders", "process_ids", "validate"]
