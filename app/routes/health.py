"""`/health`: liveness and load of this web worker, answered on the event loop (no thread, no
disk, no computation), so it answers while every tile thread and pool worker is busy."""
from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import load

CONFORMANCE: list[str] = []


async def health(request: Request) -> Response:
    s = request.app.state.services
    limits = {"tiles": s.settings.max_tile_queue, "executions": s.settings.max_sync_executions}
    busy = any(load.active(k) >= n for k, n in limits.items())
    return JSONResponse({"status": "busy" if busy else "ok", "pid": os.getpid(), **load.snapshot(), "limits": limits},
                        headers={"Cache-Control": "no-store"})


ROUTES = [Route("/health", health)]
