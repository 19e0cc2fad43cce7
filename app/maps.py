"""Map requests: a collection (or deferred result) + optional algorithm + styling -> images.

The query string is validated strictly: render keys are known, everything else must be a
parameter of the chosen algorithm (validated by its parameter model), so a misspelled parameter
is a 400 rather than silently ignored.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Mapping

from processes.engine.errors import GraphError, UnknownCollection
from processes.engine.graph import CollectionNode, Node, ProcessNode, collections_of, graph_hash, parse_process, source_node
from processes.engine.region import evaluate_region
from processes.engine.grid import Grid
from processes.ops import REGISTRY

from . import render
from .errors import ApiError, NotFound
from .legend import class_colours, label_colours, legend
from .queries import MOSAIC_METHODS, MapQuery, names, parse
from .services import Services


@dataclass(frozen=True)
class MapRequest:
    collection: str
    base: Node
    algorithm: Node | None
    colormap: str | None
    rescale: tuple[float, float] | None
    blend: float
    fmt: render.Format

    @property
    def key(self) -> str:
        parts = {"base": graph_hash(self.base), "alg": graph_hash(self.algorithm) if self.algorithm else None,
                 "cm": self.colormap, "rs": self.rescale, "bl": self.blend, "f": self.fmt}
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def base_node(services: Services, cid: str, query: Mapping[str, str], display: bool = True) -> Node:
    """The graph a collection id stands for: a source reference (bands, datetime, CQL2 filter or one
    item, and a per-pixel mosaic method over the selected scenes) or a stored workflow. For display,
    a source's default bands are its configured display bands (e.g. B04, B03, B02 for true colour)."""
    try:
        target = services.resolve(cid)
    except (LookupError, UnknownCollection):
        raise NotFound(f"unknown collection '{cid}'") from None
    selection = [k for k in ("bands", "datetime", "filter", "item", "mosaic") if k in query]
    if isinstance(target, (CollectionNode, ProcessNode)):
        if selection:
            raise ApiError(f"{', '.join(selection)} apply to source collections, not to workflow results")
        return target
    entry = services.catalog.rasters.get(cid)
    bands = query.get("bands")
    if bands is None and display and entry is not None and entry.config.render.bands:
        bands = ",".join(entry.config.render.bands)
    filt, lang = query.get("filter"), query.get("filter-lang")
    if "item" in query:
        if filt is not None:
            raise ApiError("give either item or filter, not both")
        filt, lang = {"op": "=", "args": [{"property": "id"}, query["item"]]}, "cql2-json"
    try:
        node = source_node(target, cid, bands, query.get("datetime"), filt, lang, "query")
    except GraphError as e:
        where = e.node.removeprefix("query").lstrip(".")
        raise ApiError(f"{where}: {e.reason}" if where else e.reason) from None
    method = query.get("mosaic")
    if method is None:
        return node
    if method not in MOSAIC_METHODS:
        raise ApiError(f"mosaic must be one of {', '.join(MOSAIC_METHODS)}, got '{method}'")
    if not target.is_series:
        raise ApiError(f"mosaic: collection '{cid}' is not a time series")
    return mosaic_node(target, node, method)


def mosaic_node(source, node: CollectionNode, method: str) -> ProcessNode:
    """A per-pixel composite of the selected scenes, cloud-masked with the source's cloud mask."""
    cm = getattr(source, "cloud_mask", None)
    bands = [b for b in (node.bands or source.band_names) if not cm or b != cm.band]
    params = REGISTRY["composite"].params(method=method, bands=bands, mask_band=cm.band if cm else None,
                                          **({"mask_values": cm.values} if cm else {}))
    return ProcessNode("composite", (("data", CollectionNode(node.collection, None, node.datetime, node.filter)),), params)


def usable_algorithms() -> list[str]:
    """Processes a map request can apply: one raster input named `data`."""
    return sorted(k for k, o in REGISTRY.items() if list(o.inputs) == ["data"] and o.inputs["data"].kind == "raster")


def parse_map_request(services: Services, cid: str, query: Mapping[str, str], fmt: render.Format) -> MapRequest:
    q = parse(MapQuery, query)
    base = base_node(services, cid, query, display=q.algorithm is None)
    extras = {k: v for k, v in query.items() if k not in names(MapQuery)}
    algorithm = None
    if q.algorithm:
        if q.algorithm not in usable_algorithms():
            raise ApiError(f"unknown algorithm '{q.algorithm}'; available: {', '.join(usable_algorithms())}")
        algorithm = parse_process(q.algorithm, {"data": {"collection": "__base__"}, **extras},
                                  lambda c: base if c == "__base__" else services.resolve(c))
        algorithm = _replace_input(algorithm, _only_needed_bands(base, algorithm))
    elif extras:
        raise ApiError(f"unknown query parameter(s): {', '.join(sorted(extras))}")
    if q.colormap is not None and q.colormap not in render.colormap_names():
        raise ApiError(f"unknown colormap '{q.colormap}'")
    return MapRequest(cid, base, algorithm, q.colormap, q.rescale_range, q.blend, fmt)


def _only_needed_bands(base: Node, algorithm: ProcessNode) -> Node:
    """A mosaic under an algorithm composites only the bands the algorithm reads (an NDVI of a
    12-date median reads B08, B04 and SCL, not every band of every scene)."""
    if not (isinstance(base, ProcessNode) and base.process == "composite" and algorithm.op.needs):
        return base
    wanted = algorithm.op.needs("data", base.params.bands or (), algorithm.params)
    if not wanted or set(wanted) == set(base.params.bands or ()):
        return base
    return ProcessNode("composite", base.inputs, base.params.model_copy(update={"bands": tuple(wanted)}))


def _replace_input(node: ProcessNode, base: Node) -> ProcessNode:
    return ProcessNode(node.process, (("data", base),), node.params)


def _display_defaults(services: Services, req: MapRequest) -> tuple[str | None, tuple[float, float] | None]:
    entry = services.catalog.rasters.get(req.collection)
    cfg = entry.config.render if entry else None
    root = req.base
    if req.algorithm is not None and req.blend == 0:
        op = REGISTRY[req.algorithm.process]
        return req.colormap, req.rescale or op.value_range
    if isinstance(root, ProcessNode) and (root.op.value_range or cfg is None):
        return req.colormap, req.rescale or root.op.value_range
    return (req.colormap or (cfg.colormap if cfg else None),
            req.rescale or (tuple(cfg.rescale) if cfg and cfg.rescale else None))


def render_map(services: Services, req: MapRequest, grid: Grid) -> bytes:
    """Evaluate the request's graph(s) on the grid and encode the image (class maps and segments
    in their categorical colours unless a colormap is asked)."""
    colormap, rescale = _display_defaults(services, req)
    if req.algorithm is None:
        (r,) = evaluate_region([req.base], grid, services.lookup)
        classes = legend(req.base) if req.colormap is None else None
        if classes is not None:
            return render.encode(class_colours(r.data[0], classes), r.mask, req.fmt)
        if req.colormap is None and isinstance(req.base, ProcessNode) and req.base.process == "segment":
            return render.encode(label_colours(r.data[0]), r.mask, req.fmt)
        return render.encode(render.colorize(r, rescale, colormap), r.mask, req.fmt)
    if req.blend == 0:
        (a,) = evaluate_region([req.algorithm], grid, services.lookup)
        return render.encode(render.colorize(a, rescale, colormap), a.mask, req.fmt)
    base, shade = evaluate_region([req.base, req.algorithm], grid, services.lookup)
    rgb = render.shade(render.colorize(base, rescale, colormap), shade, req.blend)
    return render.encode(rgb, base.mask & shade.mask, req.fmt)


def versions(services: Services, node: Node) -> str:
    return ",".join(services.catalog.rasters[c].collection.version for c in sorted(collections_of(node))
                    if c in services.catalog.rasters)
