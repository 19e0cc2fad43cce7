"""The dask worker plugin the executor registers on every worker of its cluster (also on workers
that join later): a worker whose allocator thresholds its nanny pinned gets ones that keep chunk
arrays on the heap (see processes/engine/allocator.py). Its own module because it subclasses
distributed's plugin class, and the executor keeps dask a lazy import."""
from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

from .allocator import tune_allocator


class TunedAllocator(WorkerPlugin):
    name = "geodeferred-allocator"  # registering again replaces it: one per worker

    def setup(self, worker) -> None:  # noqa: ANN001 - distributed's Worker
        tune_allocator()
