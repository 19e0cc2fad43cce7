"""What every collection route needs to know about a raster collection or a deferred result."""
from __future__ import annotations

from starlette.requests import Request

from processes.engine.graph import collections_of

from ..errors import NotFound


def raster_bbox(request: Request, cid: str) -> tuple[float, float, float, float]:
    """WGS84 bbox of a raster collection; for a workflow result, the intersection of its sources."""
    s = request.app.state.services
    entry = s.catalog.rasters.get(cid)
    if entry is not None:
        return entry.bbox
    doc = s.virtual_doc(cid)
    if doc is None:
        raise NotFound(f"unknown collection '{cid}'")
    boxes = [s.catalog.rasters[c].bbox for c in collections_of(s.resolve(cid)) if c in s.catalog.rasters]
    if not boxes:
        raise NotFound(f"collection '{cid}' has no source data")
    return (max(b[0] for b in boxes), max(b[1] for b in boxes), min(b[2] for b in boxes), min(b[3] for b in boxes))


def raster_title(request: Request, cid: str) -> str:
    s = request.app.state.services
    entry = s.catalog.rasters.get(cid)
    if entry is not None:
        return entry.config.title
    doc = s.virtual_doc(cid) or {}
    return doc.get("title") or f"Workflow result {cid}"
