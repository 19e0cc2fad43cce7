"""The running service's state, built once per web worker by create_app's lifespan."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from processes.engine.errors import UnknownCollection
from processes.engine.executor import Executor
from processes.engine.graph import Node, parse_process
from processes.analysis import Context
from processes.engine.sources import Source
from processes.deployed import AnyDeployedStore
from processes.engine.vectors import GeoJSONFile
from processes.jobs import AnyJobStore, JobNotFound, JobRunner
from processes.graphs import AnyGraphStore
from processes.models import AnyModelStore

from .catalog import Catalog, CollectionConfig, FeatureEntry
from .settings import Settings
from .stac.service import StacService
from .tile_cache import TileCache


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    graphs: AnyGraphStore
    jobs: AnyJobStore
    runner: JobRunner
    executor: Executor
    tiles: TileCache
    tile_pool: ThreadPoolExecutor
    deployed: AnyDeployedStore
    models: AnyModelStore | None = None  # the model store (set by build_services)
    restore_models: Callable[[], None] = lambda: None  # gives the process back the model store it had before
    stac: StacService | None = None  # set by the lifespan once the STAC backend runs
    _nodes: dict[str, Node] = field(default_factory=dict)

    def resolve(self, cid: str) -> Source | Node:
        """A collection id -> a readable collection, or the graph of a deferred result collection
        (a `response=collection` result, or a deployed process with its default inputs)."""
        if cid in self.catalog.rasters:
            return self.catalog.rasters[cid].collection
        doc = self.virtual_doc(cid)
        if doc is None:
            raise UnknownCollection(f"unknown collection '{cid}'")
        node = self._nodes.get(doc["version"])
        if node is None:
            g = doc["graph"]
            node = parse_process(g["process"], g["inputs"], self.resolve, processes=self.deployed.get)
            if len(self._nodes) > 10_000:
                self._nodes.clear()
            self._nodes[doc["version"]] = node
        return node

    def lookup(self, cid: str) -> Source:
        return self.catalog.collection(cid)

    def virtual_doc(self, cid: str) -> dict[str, Any] | None:
        """{id, graph, title, version} of a collection defined by a workflow, else None."""
        doc = self.graphs.get(cid)
        if doc is not None:
            return doc | {"version": cid}
        d = self.deployed.get(cid)
        if d is None:
            return None
        process, inputs = d.expand({})
        return {"id": d.id, "graph": {"process": process, "inputs": inputs}, "title": d.title,
                "description": d.description, "process": d.id, "version": self.deployed.version(d)}

    def features_source(self, cid: str) -> GeoJSONFile:
        """A features collection (of the catalog, or the results of an analysis job) as a vector source."""
        e = self.feature_entry(cid)
        if e is None:
            raise KeyError(cid)
        return GeoJSONFile(cid, str(e.path), e.config.id_field, e.config.time_field)

    def feature_entry(self, cid: str) -> FeatureEntry | None:
        """The catalog's features collection, or `job-{jobID}`: the features an analysis job produced."""
        if cid in self.catalog.features:
            return self.catalog.features[cid]
        if not cid.startswith(RESULTS_PREFIX):
            return None
        job_id, _, output = cid[len(RESULTS_PREFIX):].partition("-")  # job-{id}: its features; job-{id}-{name}: more
        try:
            rec = self.jobs.get(job_id)
        except JobNotFound:
            return None
        entry = (rec.results or {}).get(output or "features") if rec.status == "successful" else None
        if entry is None or entry.get("mediaType") != "application/geo+json":
            return None
        cfg = CollectionConfig(type="features", title=f"Results of job {rec.jobID} ({rec.processID}){f': {output}' if output else ''}",
                               description=f"Features computed by {rec.processID}, each with its time series.",
                               keywords=[rec.processID, "results"])
        return FeatureEntry(cid, cfg, self.jobs.result_path(rec.jobID, entry["file"]))

    def analysis_context(self, max_pixels: int | None = None) -> Context:
        """What preparing an analysis looks up; `max_pixels`: the budget of analyses that check one
        when prepared (train-model, segment-features), the sync or the job limit."""
        return Context(self.resolve, self.lookup, self.features_source,
                       self.models.shared_root if self.models is not None else None, max_pixels, self.deployed.get)


RESULTS_PREFIX = "job-"
