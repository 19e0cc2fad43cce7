"""The running service's state, built once per web worker by create_app's lifespan."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from processes.engine.errors import UnknownCollection
from processes.engine.executor import Executor
from processes.engine.graph import Node, parse_process
from processes.engine.sources import Source
from processes.analyses import Context
from processes.jobs import JobRunner, JobStore
from processes.models.store import ModelStore

from .catalog import Catalog
from .settings import Settings
from .stac.service import StacService
from .tile_cache import TileCache
from .virtual import GraphStore


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    graphs: GraphStore
    jobs: JobStore
    runner: JobRunner
    executor: Executor
    tiles: TileCache
    tile_pool: ThreadPoolExecutor
    models: ModelStore | None = None  # the model store (set by build_services)
    stac: StacService | None = None  # set by the lifespan once the STAC backend runs
    _nodes: dict[str, Node] = field(default_factory=dict)

    def resolve(self, cid: str) -> Source | Node:
        """A collection id -> a readable collection, or the graph of a deferred result collection."""
        if cid in self.catalog.rasters:
            return self.catalog.rasters[cid].collection
        node = self._nodes.get(cid)
        if node is None:
            doc = self.graphs.get(cid)
            if doc is None:
                raise UnknownCollection(f"unknown collection '{cid}'")
            g = doc["graph"]
            node = parse_process(g["process"], g["inputs"], self.resolve)
            self._nodes[cid] = node
        return node

    def lookup(self, cid: str) -> Source:
        return self.catalog.collection(cid)

    def features(self, cid: str) -> list[dict[str, Any]]:
        """The features of a features collection (KeyError when unknown)."""
        import json

        doc = json.loads(self.catalog.features[cid].path.read_text())
        return list(doc.get("features") or [])

    def analysis_context(self, max_pixels: int) -> Context:
        return Context(self.resolve, self.lookup, self.features, self.models.root, max_pixels)

    def virtual_doc(self, cid: str) -> dict[str, Any] | None:
        return self.graphs.get(cid)
