"""Lazy objects: each IS a Part 3 execution request (`to_dict()`); evaluation happens only when asked.

`Result` is any process call (`.get()` for small JSON answers, `.start()` for a job); `Image` is one
whose output is a raster (adds `.tile_layer()`, `.compute()`, Python operators, band selection);
`Collection` is a source collection (`filter_date`, `filter`, `select`).
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping

from .errors import NotSupported
from .models import Model

if TYPE_CHECKING:
    from .job import Job
    from .service import Service


def region(bbox: Any = None, width: int | None = None, height: int | None = None, resolution: float | None = None,
           crs: str | None = None, bbox_crs: str | None = None) -> dict[str, Any]:
    """The Part 1 region inputs of an evaluation (bbox in CRS84 unless bbox_crs)."""
    if bbox is None:
        raise ValueError("a bbox is needed to compute (minx, miny, maxx, maxy)")
    if width is not None and resolution is not None:
        raise ValueError("give width (and height) or resolution, not both")
    out: dict[str, Any] = {"bbox": {"bbox": [float(v) for v in bbox], "crs": bbox_crs} if bbox_crs else [float(v) for v in bbox]}
    for k, v in (("width", width), ("height", height), ("resolution", resolution), ("crs", crs)):
        if v is not None:
            out[k] = v
    return out


class Result:
    """A process call; `svc` evaluates it. Inputs may hold other lazy objects."""

    def __init__(self, svc: "Service", process: str, inputs: Mapping[str, Any]) -> None:
        self._svc, self._process, self._inputs = svc, process, dict(inputs)

    @property
    def process(self) -> str:
        return self._process

    def to_dict(self) -> dict[str, Any]:
        """The standard OGC API - Processes Part 3 nested-process request for this object."""
        return {"process": self._process, "inputs": {k: _plain(v) for k, v in self._inputs.items()}}

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(), **kw)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.to_json()[:300]}>"

    def _body(self, **extra_inputs: Any) -> dict[str, Any]:
        return {"inputs": self.to_dict()["inputs"] | extra_inputs}

    def get(self, **where: Any) -> Any:
        """Evaluate now (synchronous execution) and return the JSON answer (small results only)."""
        return self._svc._execute(self._process, self._body(**(region(**where) if where else {})))

    def start(self, **where: Any) -> "Job":
        """Start an asynchronous job (`Prefer: respond-async`); see Job.status/progress/wait/result."""
        return self._svc._start(self._process, self._body(**(region(**where) if where else {})))

    def publish(self, process_id: str, title: str | None = None, description: str = "",
                params: Any = (), replace: bool = False) -> "Image":
        """Share this workflow as a process (OGC API - Processes Part 2): others list, describe and
        execute it with their own values of `params` (names of inputs in this workflow, whose current
        values become the defaults; a dict gives their descriptions). `replace=True` replaces a process
        of that id if there is one (PUT), else deploys it. Returns its named collection."""
        return self._svc._publish(self, process_id, title or process_id, description, params, replace)


def _plain(v: Any) -> Any:
    if isinstance(v, Result):  # a published process too: the server nests it by id
        return v.to_dict()
    if isinstance(v, Model):
        return v.id
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    return v


class Image(Result):
    """A lazy raster. Process methods (hillshade, composite, normalized_difference...) are generated on
    each Service's subclass from its /processes descriptions; operators build `expression` nodes."""

    _band_names: tuple[str, ...] | None = None

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._svc._method_names(type(self))))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        method = self._svc._late_method(type(self), name)  # a process deployed since: re-read /processes
        return method.__get__(self, type(self))

    @property
    def band_names(self) -> tuple[str, ...]:
        """Output band names (asked from the server's range type of the deferred result; cached)."""
        if self._band_names is None:
            self._band_names = self._svc._band_names(self)
        return self._band_names

    def collection_url(self) -> str:
        """Part 3 `response=collection`: the URL of a collection whose tiles and coverage compute on demand."""
        return self._svc._deferred(self._process, self._body())

    def tile_layer(self, tms: str = "WebMercatorQuad", **style: Any):
        """URL template and TileJSON (colormap=, rescale=(lo, hi), blend=...) for leafmap/ipyleaflet."""
        return self._svc._tile_layer(self, tms, style)

    def add_to(self, m: Any, name: str | None = None, opacity: float = 1.0, **style: Any) -> Any:
        """Add as a tile layer to a leafmap (or ipyleaflet) map."""
        from .leafmap import add_layer

        return add_layer(m, self, name=name, opacity=opacity, **style)

    @property
    def info(self) -> dict[str, Any]:
        """The description of this image's (deferred) collection: title, extent, bands, links, and a
        `legend` for class maps."""
        return self._svc._get(self.collection_url()).json()

    def compute(self, bbox: Any, width: int | None = None, height: int | None = None, resolution: float | None = None,
                crs: str | None = None, bbox_crs: str | None = None, xarray: bool = False) -> Any:
        """Pixels of a region: a (bands, rows, cols) float32 numpy array (NaN = no data), or an
        xarray DataArray with band/y/x coordinates (`xarray=True`). Synchronous execution."""
        body = self._body(**region(bbox, width, height, resolution, crs, bbox_crs))
        return self._svc._compute(self._process, body, xarray)

    def statistics(self, **where: Any) -> dict[str, Any]:
        """Per-band count/min/max/mean/std/median/percentiles of a region (computed server-side)."""
        body = self._body(**region(**where)) | {"outputs": {"statistics": {}}}
        return self._svc._execute(self._process, body)

    get = statistics

    def zonal_statistics(self, features: Any, statistics: Any = None, datetime: str | None = None, *,
                         percentiles: Any = None, cloud_mask: Any = None, coverage: str | None = None,
                         stream: bool = False, job: bool | None = None) -> Any:
        """Statistics of this one-band image per feature and date (the service's `zonal-statistics`
        process): `features` is `svc.features(id)` (with .filter(cql2) / .bbox()), GeoJSON or a
        GeoDataFrame; `statistics` e.g. ["mean", "std", "count"]; `datetime` an instant or interval.
        Returns one row per feature and date: a GeoDataFrame (geopandas), else a pandas DataFrame,
        else a list of dicts. `stream=True`: an iterator of rows, each feature's as soon as it is
        computed. `job=True` runs a job; by default a request over the sync budget becomes one."""
        from . import zonal

        given = {"statistics": statistics, "datetime": datetime, "percentiles": percentiles,
                 "cloud_mask": cloud_mask, "coverage": coverage}
        body = self._svc._build(zonal.PROCESS, zonal.inputs(self, features, **given))._body()
        if stream:
            return zonal.stream(self, body)
        return zonal.table(zonal.compute(self, body, job))

    def train(self, features: Any = None, *, progress: bool = True, **options: Any) -> Model:
        """Fit a classifier on labelled `features` (svc.features(id)..., GeoJSON or a GeoDataFrame)
        over this image's bands as a job (the service's `train-model`; options such as method=,
        label=, resolution=, name=, clusters= as in `help(svc.processes.train_model)`). Returns the
        stored Model: `.report` (accuracy on held-out polygons), `img.classify(model)`."""
        from .models import train

        return train(self, features, progress, options)

    def select(self, *bands: str) -> "Image":
        """Keep these bands (an `expression` naming them)."""
        formula = ";".join(bands)
        return self._svc._build("expression", {"data": self, "expression": formula, "name": formula})

    # ---------------------------------------------------------------- operators -> `expression`
    def _binary(self, other: Any, op: str, reverse: bool = False) -> "Image":
        from .operators import binary

        return binary(self, other, op, reverse)

    def __add__(self, o): return self._binary(o, "+")
    def __radd__(self, o): return self._binary(o, "+", True)
    def __sub__(self, o): return self._binary(o, "-")
    def __rsub__(self, o): return self._binary(o, "-", True)
    def __mul__(self, o): return self._binary(o, "*")
    def __rmul__(self, o): return self._binary(o, "*", True)
    def __truediv__(self, o): return self._binary(o, "/")
    def __rtruediv__(self, o): return self._binary(o, "/", True)
    def __pow__(self, o): return self._binary(o, "**")
    def __rpow__(self, o): return self._binary(o, "**", True)
    def __lt__(self, o): return self._binary(o, "<")
    def __le__(self, o): return self._binary(o, "<=")
    def __gt__(self, o): return self._binary(o, ">")
    def __ge__(self, o): return self._binary(o, ">=")
    def __eq__(self, o): return self._binary(o, "==")  # type: ignore[override]
    def __ne__(self, o): return self._binary(o, "!=")  # type: ignore[override]
    def __and__(self, o): return self._binary(o, "&")
    def __rand__(self, o): return self._binary(o, "&", True)
    def __or__(self, o): return self._binary(o, "|")
    def __ror__(self, o): return self._binary(o, "|", True)

    def __neg__(self): return self._binary(-1, "*")

    def __invert__(self):
        from .operators import unary

        return unary(self, "~")

    __hash__ = object.__hash__


class Collection(Image):
    """A source collection of the service: `{"collection": id, ...}` with Part 3 modifiers."""

    def __init__(self, svc: "Service", cid: str, bands: tuple[str, ...] | None = None, datetime: str | None = None,
                 filter: str | None = None, known_bands: tuple[str, ...] | None = None) -> None:
        super().__init__(svc, "", {})
        self.id, self._bands, self._datetime, self._filter = cid, bands, datetime, filter
        self._band_names = bands or known_bands

    def _copy(self, **changes: Any) -> "Collection":
        kw = {"bands": self._bands, "datetime": self._datetime, "filter": self._filter} | changes
        return type(self)(self._svc, self.id, known_bands=self._band_names if "bands" not in changes else None, **kw)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"collection": self._svc.url + "/collections/" + self.id}
        if self._bands:
            out["bands"] = list(self._bands)
        if self._datetime:
            out["datetime"] = self._datetime
        if self._filter:
            out["filter"] = self._filter
            out["filter-lang"] = "cql2-text"
        return out

    @property
    def info(self) -> dict[str, Any]:
        """The collection's description (/collections/{id}): title, extent, bands, links."""
        return self._svc._collection_doc(self.id)

    @property
    def bbox(self) -> list[float]:
        """Its spatial extent in CRS84 (minx, miny, maxx, maxy)."""
        return self.info["extent"]["spatial"]["bbox"][0]

    @property
    def interval(self) -> list[str | None] | None:
        """Its temporal extent [start, end] (ISO 8601), None for a collection without time."""
        temporal = self.info["extent"].get("temporal")
        return temporal["interval"][0] if temporal else None

    def filter_date(self, start: str, end: str | None = None) -> "Collection":
        """Scenes from `start` to `end` (ISO 8601 dates or instants; one date: that day)."""
        return self._copy(datetime=f"{start}/{end}" if end else start)

    def filter(self, cql2: str) -> "Collection":
        """Scenes whose properties match a CQL2 text filter (e.g. "eo:cloud_cover < 20"), where the
        service's collection inputs take a `filter` modifier; NotSupported (nothing sent) otherwise."""
        if "filter" not in self._svc._collection_keys():
            raise NotSupported("this service's collection inputs take no item filter yet (its process descriptions list "
                               f"{sorted(self._svc._collection_keys())}); use filter_date()")
        return self._copy(filter=f"({self._filter}) AND ({cql2})" if self._filter else cql2)

    def select(self, *bands: str) -> "Collection":  # type: ignore[override]
        """Read only these bands (the `bands` modifier of a collection input)."""
        return self._copy(bands=tuple(bands))

    def _body(self, **extra_inputs: Any) -> dict[str, Any]:
        raise NotSupported("a source collection is evaluated through its tiles or coverage (tile_layer, compute)")

    def collection_url(self) -> str:
        return f"{self._svc.url}/collections/{self.id}"

    def compute(self, bbox: Any, width: int | None = None, height: int | None = None, resolution: float | None = None,
                crs: str | None = None, bbox_crs: str | None = None, xarray: bool = False) -> Any:
        """Through OGC API - Coverages (CRS84 bbox and output), or an identity expression otherwise."""
        if crs is None and resolution is None and bbox_crs is None and self._filter is None:
            return self._svc._coverage(self, bbox, width, height, xarray)
        names = self.band_names
        ident = self._svc._build("expression", {"data": self, "expression": ";".join(names), "name": ";".join(names)})
        return ident.compute(bbox, width, height, resolution, crs, bbox_crs, xarray)

    def statistics(self, **where: Any) -> dict[str, Any]:
        names = self.band_names
        ident = self._svc._build("expression", {"data": self, "expression": ";".join(names), "name": ";".join(names)})
        return ident.statistics(**where)

    get = statistics

    def __repr__(self) -> str:
        return f"<Collection {self.to_json()}>"
