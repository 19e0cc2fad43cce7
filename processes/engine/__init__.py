"""The deferred engine: graphs of operations evaluated per tile or region. Knows nothing of HTTP."""
