"""Feature collections (OGC API - Features): lazy queries, read page by page when asked."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from .errors import NotSupported, raise_for_problem

if TYPE_CHECKING:
    from .service import Service

FILTER_CONF = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter"


class Features:
    """`svc.features("parcels").filter("crop_type = 'maize'").bbox(...)`; `.get()` -> a FeatureCollection.

    CQL2 text filters go to the server when it declares Features Part 3 (filter); otherwise they are
    evaluated here on the features read (pygeofilter, extra `geodeferred-client[filter]`)."""

    def __init__(self, svc: "Service", cid: str, cql2: tuple[str, ...] = (), bbox: tuple[float, ...] | None = None,
                 page: int = 1000) -> None:
        self._svc, self.id, self._cql2, self._bbox, self._page = svc, cid, cql2, bbox, page

    def __repr__(self) -> str:
        return f"<Features {self.id} filter={' AND '.join(self._cql2) or None} bbox={self._bbox}>"

    def filter(self, cql2: str) -> "Features":
        return Features(self._svc, self.id, self._cql2 + (cql2,), self._bbox, self._page)

    def bbox(self, *bbox: float) -> "Features":
        return Features(self._svc, self.id, self._cql2, tuple(bbox[0] if len(bbox) == 1 else bbox), self._page)

    @property
    def queryables(self) -> dict[str, Any]:
        """The properties a filter may use (`/collections/{id}/queryables`): name -> JSON schema."""
        return raise_for_problem(self._svc.http.get(f"{self.url}/queryables")).json()["properties"]

    @property
    def url(self) -> str:
        return f"{self._svc.url}/collections/{self.id}"

    def to_dict(self) -> dict[str, Any]:
        """This selection as a process input (`{"collection", "filter", "bbox"}`): the service selects."""
        out: dict[str, Any] = {"collection": self.url}
        if self._cql2:
            out |= {"filter": _joined(self._cql2), "filter-lang": "cql2-text"}
        if self._bbox:
            out["bbox"] = [float(v) for v in self._bbox]
        return out

    def _server_filters(self) -> bool:
        conf = raise_for_problem(self._svc.http.get(f"{self._svc.url}/conformance")).json()["conformsTo"]
        return FILTER_CONF in conf

    def _pages(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        url: str | None = f"{self.url}/items"
        while url:
            doc = raise_for_problem(self._svc.http.get(url, params=params, headers={"Accept": "application/geo+json"})).json()
            yield from doc.get("features", [])
            url, params = next((l["href"] for l in doc.get("links", []) if l.get("rel") == "next"), None), {}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"limit": self._page}
        if self._bbox:
            params["bbox"] = ",".join(map(str, self._bbox))
        test = None
        if self._cql2 and self._server_filters():
            params |= {"filter": _joined(self._cql2), "filter-lang": "cql2-text"}
        elif self._cql2:
            test = _local_filter(_joined(self._cql2))
        for f in self._pages(params):
            if test is None or test(f.get("properties") or {}):
                yield f

    def get(self) -> dict[str, Any]:
        """Every matching feature, as a GeoJSON FeatureCollection."""
        return {"type": "FeatureCollection", "features": list(self)}

    def to_geopandas(self):
        import geopandas as gpd

        return gpd.GeoDataFrame.from_features(self.get()["features"], crs="OGC:CRS84")


def _local_filter(text: str):
    try:
        from pygeofilter.backends.native.evaluate import NativeEvaluator
        from pygeofilter.parsers.cql2_text import parse
    except ImportError:
        raise NotSupported("this server does not filter features (no Features Part 3); install pygeofilter "
                           "(geodeferred-client[filter]) to filter them here") from None
    return NativeEvaluator(use_getattr=False).evaluate(parse(text))


def _joined(cql2: tuple[str, ...]) -> str:
    return cql2[0] if len(cql2) == 1 else " AND ".join(f"({c})" for c in cql2)
