"""Vector geometry of the demo landscape (pure functions, no I/O).

One 20.48 km square AOI in UTM 31N (southern France) holds an agricultural
plain (the parcels), a river, a lake and a town in the west, and wooded hills
in the east where the two fires burn and most protected sites lie. The same
geometries drive both the GeoJSON layers and the Sentinel-2-like rasters, so
zonal statistics over the published polygons find what was painted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import LineString, Polygon, box, mapping
from shapely.geometry.polygon import orient
from shapely.ops import transform as shp_transform

AOI_CRS = "EPSG:32631"
AOI_X0, AOI_Y0 = 600_000.0, 4_800_000.0  # lower-left corner (m)
PIXEL = 10.0
SIZE = 2048  # pixels per side
AOI_X1, AOI_Y1 = AOI_X0 + SIZE * PIXEL, AOI_Y0 + SIZE * PIXEL
LANDSCAPE_SEED = 31

CROP_TYPES = ("winter_wheat", "rapeseed", "maize", "sunflower", "vineyard", "meadow")
CROP_WEIGHTS = (0.27, 0.10, 0.18, 0.15, 0.18, 0.12)

_GEOD = Geod(ellps="WGS84")
_TO_WGS84 = Transformer.from_crs(AOI_CRS, "OGC:CRS84", always_xy=True)


@dataclass(frozen=True)
class Fire:
    id: str
    name: str
    date: date
    geometry: Polygon  # UTM 31N


@dataclass(frozen=True)
class Parcel:
    id: str
    crop_type: str
    geometry: Polygon  # UTM 31N


def local(x: float, y: float) -> tuple[float, float]:
    """AOI-relative metres -> UTM coordinates (layout below is written in AOI metres)."""
    return AOI_X0 + x, AOI_Y0 + y


def aoi_polygon() -> Polygon:
    return box(AOI_X0, AOI_Y0, AOI_X1, AOI_Y1)


def blob(cx: float, cy: float, rx: float, ry: float, angle_deg: float, rng: np.random.Generator,
         roughness: float = 0.12, n: int = 96) -> Polygon:
    """Irregular closed shape: an ellipse whose radius is perturbed by random harmonics."""
    phi = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    r = np.ones_like(phi)
    for k in range(2, 9):
        r += roughness / k * 2.0 * rng.uniform(-1, 1) * np.cos(k * phi + rng.uniform(0, 2 * np.pi))
    a = math.radians(angle_deg)
    ex, ey = rx * r * np.cos(phi), ry * r * np.sin(phi)
    xs = cx + ex * math.cos(a) - ey * math.sin(a)
    ys = cy + ex * math.sin(a) + ey * math.cos(a)
    return Polygon(np.column_stack([xs, ys])).buffer(0)


def hills_boundary_x(y: np.ndarray | float) -> np.ndarray | float:
    """AOI x (m) where the plain ends and the wooded hills begin, for AOI y (m)."""
    return 11_000.0 + 1_200.0 * np.sin(np.asarray(y) / 3_100.0) + 500.0 * np.sin(np.asarray(y) / 1_300.0 + 1.0)


@lru_cache(maxsize=1)
def water_and_town() -> dict[str, Polygon]:
    """River, lake, town and the main road (UTM polygons)."""
    rng = np.random.default_rng(LANDSCAPE_SEED)
    ys = np.linspace(-200.0, SIZE * PIXEL + 200.0, 400)
    xs = 6_500.0 + 700.0 * np.sin(ys / 1_700.0) + 250.0 * np.sin(ys / 610.0 + 0.7)
    river = LineString([local(x, y) for x, y in zip(xs, ys)]).buffer(30.0, quad_segs=4)
    lake = blob(*local(2_700.0, 16_200.0), 650.0, 420.0, 25.0, rng, 0.10)
    town = blob(*local(8_800.0, 6_300.0), 950.0, 700.0, -20.0, rng, 0.18)
    road = LineString([local(-100.0, 4_100.0), local(8_800.0, 6_300.0), local(13_500.0, 9_800.0),
                       local(20_600.0, 10_400.0)]).buffer(8.0, quad_segs=2)
    return {"river": river, "lake": lake, "town": town, "road": road}


@lru_cache(maxsize=1)
def parcels() -> tuple[Parcel, ...]:
    """~200 rectangular fields on a rotated grid in the plain, avoiding water, town and road."""
    rng = np.random.default_rng(LANDSCAPE_SEED + 1)
    feats = water_and_town()
    ys = np.linspace(0, SIZE * PIXEL, 200)
    plain = Polygon([local(700.0, 700.0)] + [local(hills_boundary_x(y) - 400.0, y) for y in ys[3:-3]]
                    + [local(700.0, SIZE * PIXEL - 700.0)])
    allowed = plain.difference(shapely.union_all([
        feats["river"].buffer(150.0), feats["lake"].buffer(120.0),
        feats["town"].buffer(200.0), feats["road"].buffer(25.0)]))
    shapely.prepare(allowed)
    angle = math.radians(17.0)
    cx, cy = local(6_000.0, 10_000.0)
    out: list[Parcel] = []
    v = -14_000.0
    while v < 14_000.0:
        h = rng.uniform(380.0, 700.0)
        u = -14_000.0 + rng.uniform(0, 500.0)
        while u < 14_000.0:
            w = rng.uniform(320.0, 950.0)
            # 8 m field margins: hedges/tracks between fields stay grassland
            corners = np.array([[u + 8, v + 8], [u + w - 8, v + 8], [u + w - 8, v + h - 8], [u + 8, v + h - 8]])
            if rng.uniform() < 0.25:  # some trapezoids for variety
                corners[2, 0] -= rng.uniform(0.1, 0.4) * w
            xs = cx + corners[:, 0] * math.cos(angle) - corners[:, 1] * math.sin(angle)
            yy = cy + corners[:, 0] * math.sin(angle) + corners[:, 1] * math.cos(angle)
            poly = Polygon(np.column_stack([xs, yy]))
            if allowed.contains(poly) and rng.uniform() < 0.62:
                crop = str(rng.choice(CROP_TYPES, p=CROP_WEIGHTS))
                out.append(Parcel(f"P{len(out) + 1:03d}", crop, poly))
            u += w
        v += h
    return tuple(out)


@lru_cache(maxsize=1)
def fires() -> tuple[Fire, ...]:
    """The 2022 and 2023 summer fires, in the eastern hills."""
    rng = np.random.default_rng(LANDSCAPE_SEED + 2)
    return (
        Fire("F2022-01", "Feu de la Combe Rousse", date(2022, 7, 24),
             blob(*local(15_600.0, 13_600.0), 2_700.0, 1_450.0, 32.0, rng, 0.16)),
        Fire("F2023-01", "Feu des Aiguebelles", date(2023, 8, 12),
             blob(*local(16_300.0, 5_000.0), 2_000.0, 1_050.0, -18.0, rng, 0.16)),
    )


# (id, name, designation, established, centre (AOI metres | lon/lat), radii (m), angle (deg))
_LOCAL_SITES = [
    ("PS01", "Garrigues de la Combe Rousse", "Natura 2000 SAC", "2006-12-12", (14_600.0, 14_800.0), (2_300.0, 1_500.0), 20.0),
    ("PS02", "Bois Noir Nature Reserve", "Nature Reserve", "1994-05-30", (17_800.0, 11_600.0), (1_500.0, 1_100.0), -10.0),
    ("PS03", "Gorges de l'Aiguebelle", "Natura 2000 SPA", "2004-03-01", (17_200.0, 4_200.0), (1_900.0, 1_200.0), 60.0),
    ("PS04", "Etang des Salines", "Ramsar Site", "2011-02-02", (2_700.0, 16_200.0), (950.0, 700.0), 25.0),
    ("PS05", "Plateau des Cades", "Regional Nature Park core zone", "2015-09-18", (18_300.0, 18_200.0), (1_400.0, 1_200.0), 0.0),
]
_WORLD_SITES = [
    ("PS06", "Sierra de los Halcones", "National Park", "1989-07-04", "ES", (-3.9, 37.6), (14_000.0, 9_000.0), 30.0),
    ("PS07", "Ol Kerani Conservancy", "Community Conservancy", "2008-01-15", "KE", (35.2, -1.5), (26_000.0, 18_000.0), -15.0),
    ("PS08", "Serra do Ventoso", "National Park", "1961-11-21", "BR", (-47.6, -15.4), (22_000.0, 15_000.0), 70.0),
    ("PS09", "Caribou Lakes Wilderness", "Wilderness Area", "1978-06-01", "CA", (-110.5, 58.2), (45_000.0, 30_000.0), 10.0),
    ("PS10", "Kinta Falls Reserve", "Nature Reserve", "1999-03-12", "AU", (146.2, -37.6), (12_000.0, 8_000.0), -40.0),
    ("PS11", "Hokuto Highlands", "Quasi-National Park", "1968-05-01", "JP", (138.3, 36.1), (11_000.0, 7_000.0), 50.0),
    ("PS12", "Fjellvidda", "Landscape Protection Area", "2003-10-10", "NO", (8.2, 60.6), (30_000.0, 20_000.0), 0.0),
    ("PS13", "Anti-Atlas Argan Highlands", "Biosphere Reserve", "1998-12-08", "MA", (-8.9, 30.2), (38_000.0, 24_000.0), 80.0),
]


def protected_sites() -> list[tuple[dict, Polygon]]:
    """(properties, lon/lat polygon): 5 sites in the AOI (3 touched by fires), 8 elsewhere."""
    rng = np.random.default_rng(LANDSCAPE_SEED + 3)
    out = []
    for sid, name, designation, established, (x, y), (rx, ry), ang in _LOCAL_SITES:
        poly = blob(*local(x, y), rx, ry, ang, rng, 0.15).intersection(aoi_polygon())
        out.append(({"id": sid, "name": name, "designation": designation, "established": established,
                     "country": "FR"}, to_wgs84(poly)))
    for sid, name, designation, established, country, (lon, lat), (rx, ry), ang in _WORLD_SITES:
        # draw in a local azimuthal equidistant plane (metres), then unproject
        aeqd = Transformer.from_crs(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=WGS84", "OGC:CRS84", always_xy=True)
        poly = shp_transform(aeqd.transform, blob(0.0, 0.0, rx, ry, ang, rng, 0.2))
        out.append(({"id": sid, "name": name, "designation": designation, "established": established,
                     "country": country}, poly))
    return out


def to_wgs84(geom: Polygon) -> Polygon:
    """UTM 31N -> lon/lat (CRS84 axis order)."""
    return shp_transform(_TO_WGS84.transform, geom)


def area_ha(geom_lonlat: Polygon) -> float:
    """Geodesic area on the WGS84 ellipsoid, hectares."""
    return round(abs(_GEOD.geometry_area_perimeter(geom_lonlat)[0]) / 1e4, 2)


def _feature(fid: str, geom_lonlat: Polygon, props: dict) -> dict:
    geom = shapely.set_precision(orient(geom_lonlat, 1.0), 1e-7)  # RFC 7946: CCW shells, ~1 cm
    return {"type": "Feature", "id": fid, "geometry": mapping(geom), "properties": props}


def _collection(name: str, features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "name": name, "features": features}


def parcels_geojson() -> dict:
    feats = []
    for p in parcels():
        g = to_wgs84(p.geometry)
        feats.append(_feature(p.id, g, {"id": p.id, "crop_type": p.crop_type, "area_ha": area_ha(g)}))
    return _collection("parcels", feats)


def fire_perimeters_geojson() -> dict:
    feats = []
    for f in fires():
        g = to_wgs84(f.geometry)
        props = {"id": f.id, "name": f.name, "year": f.date.year, "date": f.date.isoformat(),
                 "datetime": f"{f.date.isoformat()}T14:00:00Z", "area_ha": area_ha(g)}
        feats.append(_feature(f.id, g, props))
    return _collection("fire_perimeters", feats)


def protected_sites_geojson() -> dict:
    feats = []
    for props, g in protected_sites():
        props = {**props, "area_ha": area_ha(g)}
        feats.append(_feature(props["id"], g, props))
    return _collection("protected_sites", feats)

