"""Engine exceptions. No HTTP here: the app maps each class to a status in one table."""
from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class GraphError(EngineError):
    """A workflow graph is invalid; `node` names the offending node (a path like 'inputs.data')."""

    def __init__(self, message: str, node: str = "") -> None:
        super().__init__(f"{node}: {message}" if node else message)
        self.node = node
        self.reason = message


class UnknownProcess(GraphError):
    pass


class UnknownCollection(GraphError):
    pass


class BudgetExceeded(EngineError):
    """The request would read or produce more pixels than the configured budget allows."""


class OutOfBounds(EngineError):
    """The requested area does not intersect the data (e.g. a tile outside the matrix limits)."""


class ChunkLost(Exception):
    """A part of a region (or any fanned-out item) was lost with its worker on every attempt:
    a fault of the cluster, not of the request (not an EngineError, which means bad input)."""
