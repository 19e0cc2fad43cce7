"""`Service(url)`: the entry point. Reads /processes once, generates the process methods of its own
Image and Collection classes from the descriptions, and evaluates lazy objects when asked."""
from __future__ import annotations

import json
from typing import Any, Iterable, Iterator, Mapping

import httpx

from . import methods
from .errors import NotSupported, raise_for_problem
from .features import Features
from .job import Job
from .lazy import Collection, Image, Result
from .models import Model
from .results import TileLayer, to_array

PLACEHOLDER = "$input"


class _Processes:
    """`svc.processes.<name>(**inputs)`: every process as a function (raster inputs as keywords)."""

    def __init__(self, svc: "Service") -> None:
        self._svc = svc

    def __dir__(self) -> list[str]:
        return sorted(methods.py_name(p) for p in self._svc._descriptions())

    def __getattr__(self, name: str) -> Any:
        for pid, desc in self._svc._descriptions().items():
            if methods.py_name(pid) == name:
                return methods.make_method(desc, self._svc._build, None, self._svc._kind(desc).__name__)
        raise AttributeError(f"no process '{name}' on {self._svc.url} (see dir(svc.processes))")


class Service:
    """A geodeferred (OGC API) service. `timeout` is per request, in seconds."""

    def __init__(self, url: str, timeout: float = 300.0, client: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self.http = client or httpx.Client(timeout=timeout)
        self.processes = _Processes(self)
        self._desc: dict[str, dict[str, Any]] | None = None
        self._classes: dict[str, type] = {}
        self._collections: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"<Service {self.url}>"

    # ---------------------------------------------------------------- HTTP
    def _get(self, url: str, **params: Any) -> httpx.Response:
        return raise_for_problem(self.http.get(url if url.startswith("http") else self.url + url, params=params or None))

    def _post(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        return raise_for_problem(self.http.post(self.url + path, json=body, **kw))

    # ---------------------------------------------------------------- descriptions -> classes
    def refresh(self) -> None:
        """Re-read /processes (a process deployed or added since appears as a method)."""
        listing = self._get("/processes").json()["processes"]
        self._desc = {p["id"]: self._get(f"/processes/{p['id']}").json() for p in listing}
        self._classes.clear()

    def _descriptions(self) -> dict[str, dict[str, Any]]:
        if self._desc is None:
            self.refresh()
        return self._desc  # type: ignore[return-value]

    def _collection_keys(self) -> set[str]:
        return methods.collection_keys(self._descriptions())

    def _kind(self, desc: Mapping[str, Any]) -> type:
        return self._class("Image") if methods.returns_raster(desc) else Result

    def _class(self, kind: str) -> type:
        """This service's Image/Collection subclasses, with one generated method per raster process."""
        if kind not in self._classes:
            attrs: dict[str, Any] = {}
            for pid, desc in self._descriptions().items():
                rasters, _ = methods.split_inputs(desc)
                if rasters and not hasattr(Image, methods.py_name(pid)):  # hand-written ones (zonal_statistics) stay
                    kind_name = "Image" if methods.returns_raster(desc) else "Result"
                    attrs[methods.py_name(pid)] = methods.make_method(desc, self._build, rasters[0], kind_name)
            image = type("Image", (Image,), dict(attrs, __module__=Image.__module__))
            self._classes["Image"] = image
            self._classes["Collection"] = type("Collection", (Collection, image), {"__module__": Collection.__module__})
        return self._classes[kind]

    def _method_names(self, cls: type) -> list[str]:
        return [n for n in vars(self._class("Image")) if not n.startswith("_")]

    def _late_method(self, cls: type, name: str) -> Any:
        """A method not on the class: maybe deployed after the class was made; re-read once."""
        self.refresh()
        method = getattr(self._class("Image"), name, None)
        if method is None or not callable(method):
            raise AttributeError(f"no process '{name}' on {self.url} (dir() lists the methods)")
        return method

    def _build(self, pid: str, inputs: dict[str, Any]) -> Result:
        desc = self._descriptions().get(pid)
        if desc is None:
            raise NotSupported(f"the service has no process '{pid}'")
        return self._kind(desc)(self, pid, inputs)

    # ---------------------------------------------------------------- entry points
    def collection(self, cid: str) -> Collection:
        """A raster collection (source, deferred result or published workflow) as a lazy image."""
        doc = self._collection_doc(cid)
        if doc.get("itemType") == "feature":
            raise NotSupported(f"'{cid}' is a feature collection: use svc.features('{cid}')")
        bands = tuple(doc["bands"]) if doc.get("bands") else None
        return self._class("Collection")(self, cid, known_bands=bands)

    def _collection_doc(self, cid: str) -> dict[str, Any]:
        if cid not in self._collections:
            self._collections[cid] = self._get(f"/collections/{cid}").json()
        return self._collections[cid]

    def features(self, cid: str) -> Features:
        return Features(self, cid)

    def model(self, mid: str) -> Model:
        """A stored model (listed at /models) by id, e.g. for `image.classify(svc.model(id))`."""
        self._get(f"/models/{mid}")
        return Model(self, mid)

    def process(self, pid: str, **inputs: Any) -> Result:
        """Any process (built-in or published) called with these inputs (lazy)."""
        return self._build(pid, inputs)

    def collections(self) -> list[str]:
        return [c["id"] for c in self._get("/collections").json()["collections"]]

    def unpublish(self, pid: str) -> None:
        """Undeploy a published workflow (DELETE /processes/{id})."""
        raise_for_problem(self.http.delete(f"{self.url}/processes/{pid}"))
        self._desc = None
        self._classes.clear()

    # ---------------------------------------------------------------- evaluation
    def _execute(self, pid: str, body: dict[str, Any]) -> Any:
        r = self._post(f"/processes/{pid}/execution", body)
        return r.json() if "json" in r.headers.get("content-type", "") else r.content

    def _compute(self, pid: str, body: dict[str, Any], xarray: bool) -> Any:
        return to_array(self._post(f"/processes/{pid}/execution", body).content, xarray)

    def _coverage(self, c: Collection, bbox: Iterable[float], width: int | None, height: int | None, xarray: bool) -> Any:
        params: dict[str, Any] = {"bbox": ",".join(str(float(v)) for v in bbox)}
        sizes = [f"Lon({width})"] if width else []
        sizes += [f"Lat({height})"] if height else []
        if sizes:
            params["scale-size"] = ",".join(sizes)
        if c._bands:
            params["properties"] = ",".join(c._bands)
        if c._datetime:
            params["datetime"] = c._datetime
        return to_array(self._get(f"/collections/{c.id}/coverage", **params).content, xarray)

    def _stream_lines(self, pid: str, body: dict[str, Any]) -> Iterator[str]:
        """The non-empty lines of an execution's answer, as they arrive."""
        with self.http.stream("POST", f"{self.url}/processes/{pid}/execution", json=body) as r:
            if r.status_code >= 400:
                r.read()
                raise_for_problem(r)
            yield from (line for line in r.iter_lines() if line.strip())

    def _start(self, pid: str, body: dict[str, Any]) -> Job:
        r = self._post(f"/processes/{pid}/execution", body, headers={"Prefer": "respond-async"})
        return Job(self, r.headers.get("location") or f"{self.url}/jobs/{r.json()['jobID']}")

    def _deferred(self, pid: str, body: dict[str, Any]) -> str:
        """Part 3 response=collection: 303 See Other -> the deferred result's collection URL."""
        r = raise_for_problem(self.http.post(f"{self.url}/processes/{pid}/execution", params={"response": "collection"},
                                             json=body, follow_redirects=False))
        if r.status_code != 303:
            raise NotSupported(f"expected 303 See Other for response=collection, got {r.status_code}")
        return r.headers["location"]

    def _band_names(self, img: Image) -> tuple[str, ...]:
        url = img.collection_url()
        fields = self._get(f"{url}/coverage/rangetype", f="json").json()["field"]
        return tuple(f["id"] for f in fields)

    def _tile_layer(self, img: Image, tms: str, style: dict[str, Any]) -> TileLayer:
        """collection -> its map tilesets -> the tileset in `tms` -> its TileJSON (with the style)."""
        url = img.collection_url()
        coll = self._get(url).json()
        tilesets = self._get(_link(coll, "tilesets-map")).json()
        ts_link = next((l["href"] for ts in tilesets["tilesets"] for l in ts["links"]
                        if l["rel"] == "self" and l["href"].rstrip("/").endswith("/" + tms)), None)
        if ts_link is None:
            raise NotSupported(f"no {tms} tileset for {url}")
        tileset = self._get(ts_link).json()
        query = {k: (",".join(map(str, v)) if isinstance(v, (list, tuple)) else v) for k, v in style.items()}
        if isinstance(img, Collection):
            query |= {k: v for k, v in (("datetime", img._datetime), ("bands", ",".join(img._bands or ()))) if v}
        tilejson = self._get(_link(tileset, "describedby"), **query).json()
        return TileLayer(tilejson["tiles"][0], tilejson, url)

    # ---------------------------------------------------------------- sharing (Part 2)
    def _publish(self, obj: Result, pid: str, title: str, description: str, params: Any, replace: bool) -> Collection:
        workflow, found = _parametrise(obj.to_dict(), params)
        names = params if isinstance(params, Mapping) else {n: "" for n in params}
        inputs = {n: {"title": n, "description": names[n], "schema": {"default": found[n]}} for n in names}
        pkg = {"processDescription": {"id": pid, "title": title, "description": description, "version": "1.0.0",
                                      "inputs": inputs},
               "executionUnit": {"value": workflow, "mediaType": "application/ogcexec+json"}}
        if replace and self.http.get(f"{self.url}/processes/{pid}").status_code == 200:
            raise_for_problem(self.http.put(f"{self.url}/processes/{pid}", json=pkg))
        else:
            self._post("/processes", pkg)
        self._desc = None
        self._classes.clear()
        self._collections.pop(pid, None)
        return self.collection(pid)


def _link(doc: Mapping[str, Any], rel: str) -> str:
    for l in doc.get("links", []):
        if l["rel"] == rel or l["rel"].endswith("/" + rel):
            return l["href"]
    raise NotSupported(f"no '{rel}' link in {doc.get('id', 'the document')}")


def _parametrise(workflow: dict[str, Any], params: Iterable[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Replace every input or collection modifier named in `params` by {"$input": name}; their values
    (which must agree where a name occurs more than once) become the defaults."""
    wanted, found = set(params), {}

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        inputs = node.get("inputs") if "process" in node else node if "collection" in node else None
        out = {k: walk(v) if k in ("inputs",) or isinstance(v, (dict, list)) else v for k, v in node.items()}
        target = out.get("inputs") if "process" in node else out if "collection" in node else None
        for name in wanted & set(inputs or {}):
            value = inputs[name]
            if name in found and json.dumps(found[name], sort_keys=True) != json.dumps(value, sort_keys=True):
                raise ValueError(f"'{name}' has different values in the workflow ({found[name]!r}, {value!r}): "
                                 "publish one of them under another name")
            found[name] = value
            target[name] = {PLACEHOLDER: name}
        return out

    result = walk(workflow)
    missing = sorted(wanted - set(found))
    if missing:
        raise ValueError(f"no input named {missing} in this workflow")
    return result, found
