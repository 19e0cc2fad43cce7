"""The dask worker plugin the executor registers on every worker of its cluster (also on workers
that join later): the allocator tuned as in the local pool's workers. Its own module because it
subclasses distributed's plugin class, and the executor keeps dask a lazy import."""
from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

from .executor import tune_allocator


class TunedAllocator(WorkerPlugin):
    name = "geodeferred-allocator"  # registering again replaces it: one per worker

    def setup(self, worker) -> None:  # noqa: ANN001 - distributed's Worker
        tune_allocator()
