"""GeoJSON (RFC 7946, CRS84) documents of the demo vector layers of one AOI window."""

from __future__ import annotations

import shapely
from shapely.geometry import mapping
from shapely.geometry.polygon import orient

from . import landscape as L


def _feature(fid: str, geom_lonlat, props: dict) -> dict:
    geom = shapely.set_precision(orient(geom_lonlat, 1.0), 1e-7)  # RFC 7946: CCW shells, ~1 cm
    return {"type": "Feature", "id": fid, "geometry": mapping(geom), "properties": props}


def _collection(name: str, features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "name": name, "features": features}


def parcels_geojson(win: L.Window) -> dict:
    feats = []
    for p in L.parcels(win):
        g = L.to_wgs84(p.geometry)
        feats.append(_feature(p.id, g, {"id": p.id, "crop_type": p.crop_type, "area_ha": L.area_ha(g)}))
    return _collection("parcels", feats)


def fire_perimeters_geojson(win: L.Window) -> dict:  # noqa: ARG001 - every window holds both fires
    feats = []
    for f in L.fires():
        g = L.to_wgs84(f.geometry)
        props = {"id": f.id, "name": f.name, "year": f.date.year, "date": f.date.isoformat(),
                 "datetime": f"{f.date.isoformat()}T14:00:00Z", "area_ha": L.area_ha(g)}
        feats.append(_feature(f.id, g, props))
    return _collection("fire_perimeters", feats)


def site_polygons(win: L.Window) -> list[tuple[dict, object]]:
    """(properties, lon/lat polygon) of every protected site: the local ones clipped to the window."""
    local = [(props, L.to_wgs84(poly.intersection(win.polygon()))) for props, poly in L.local_sites()]
    return local + L.world_sites()


def protected_sites_geojson(win: L.Window) -> dict:
    feats = []
    for props, g in site_polygons(win):
        props = {**props, "area_ha": L.area_ha(g)}
        feats.append(_feature(props["id"], g, props))
    return _collection("protected_sites", feats)


GEOJSON = {
    "protected_sites": protected_sites_geojson,
    "parcels": parcels_geojson,
    "fire_perimeters": fire_perimeters_geojson,
}
