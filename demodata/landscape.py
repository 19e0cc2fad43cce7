"""Vector geometry of the demo landscape (pure functions, no I/O).

One landscape in UTM 31N (southern France, on land in the demo DEM): an agricultural plain in the
west (parcels, a river, a lake, a town, a road) and wooded hills in the east where the two fires
burn and most protected sites lie. It is drawn once in "world" metres around a fixed origin; a
:class:`Window` (the AOI of a demo size) only selects the part that gets rasterised, so the large
AOI contains the default one unchanged (same parcels, fires and sites, plus more parcels).
The same geometries drive the GeoJSON layers, the Sentinel-2-like rasters and the DEM's regional
relief (:mod:`.terrain`), so zonal statistics over the published polygons find what was painted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import LineString, Polygon, box
from shapely.ops import transform as shp_transform

AOI_CRS = "EPSG:32631"
EPSG = 32631
ORIGIN = (600_000.0, 4_800_000.0)  # world metres (0, 0): lower-left corner of the default AOI
PIXEL = 10.0
LANDSCAPE_SEED = 31
WORLD = (-15_360.0, -15_360.0, 25_600.0, 25_600.0)  # extent of the drawn landscape (the large AOI)

CROP_TYPES = ("winter_wheat", "rapeseed", "maize", "sunflower", "vineyard", "meadow")
CROP_WEIGHTS = (0.27, 0.10, 0.18, 0.15, 0.18, 0.12)

_GEOD = Geod(ellps="WGS84")
_TO_WGS84 = Transformer.from_crs(AOI_CRS, "OGC:CRS84", always_xy=True)


@dataclass(frozen=True)
class Window:
    """The rasterised AOI: ``pixels`` x ``pixels`` cells of 10 m, lower-left at world metres (x0, y0)."""

    x0: float
    y0: float
    pixels: int

    @property
    def side(self) -> float:
        return self.pixels * PIXEL

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """UTM bounds (west, south, east, north)."""
        x, y = ORIGIN[0] + self.x0, ORIGIN[1] + self.y0
        return x, y, x + self.side, y + self.side

    def polygon(self) -> Polygon:
        return box(*self.bounds)


@dataclass(frozen=True)
class Fire:
    id: str
    name: str
    date: date
    geometry: Polygon  # UTM 31N


@dataclass(frozen=True)
class Parcel:
    id: str
    key: tuple[int, int]  # (row, column) on the field grid: seeds the parcel's own phenology
    crop_type: str
    geometry: Polygon  # UTM 31N


def world(x, y):
    """World metres -> UTM coordinates."""
    return ORIGIN[0] + np.asarray(x), ORIGIN[1] + np.asarray(y)


def blob(cx: float, cy: float, rx: float, ry: float, angle_deg: float, rng: np.random.Generator,
         roughness: float = 0.12, n: int = 96) -> Polygon:
    """Irregular closed shape in world metres -> UTM: an ellipse perturbed by random harmonics."""
    phi = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    r = np.ones_like(phi)
    for k in range(2, 9):
        r += roughness / k * 2.0 * rng.uniform(-1, 1) * np.cos(k * phi + rng.uniform(0, 2 * np.pi))
    a = math.radians(angle_deg)
    ex, ey = rx * r * np.cos(phi), ry * r * np.sin(phi)
    xs, ys = world(cx + ex * math.cos(a) - ey * math.sin(a), cy + ex * math.sin(a) + ey * math.cos(a))
    return Polygon(np.column_stack([xs, ys])).buffer(0)


def hills_boundary_x(y):
    """World x (m) where the plain ends and the wooded hills begin, for world y (m)."""
    y = np.asarray(y, dtype=np.float64)
    return 5_600.0 + 600.0 * np.sin(y / 1_550.0) + 250.0 * np.sin(y / 650.0 + 1.0)


@lru_cache(maxsize=1)
def water_and_town() -> dict[str, Polygon]:
    """River, lake, town and the main road (UTM polygons)."""
    rng = np.random.default_rng(LANDSCAPE_SEED)
    ys = np.linspace(WORLD[1] - 200.0, WORLD[3] + 200.0, 1200)
    xs = 3_300.0 + 350.0 * np.sin(ys / 850.0) + 125.0 * np.sin(ys / 305.0 + 0.7)
    river = LineString(np.column_stack(world(xs, ys))).buffer(30.0, quad_segs=4)
    lake = blob(1_350.0, 8_100.0, 330.0, 210.0, 25.0, rng, 0.10)
    town = blob(4_400.0, 3_150.0, 475.0, 350.0, -20.0, rng, 0.18)
    road = LineString(np.column_stack(world([WORLD[0] - 100.0, -100.0, 4_400.0, 6_750.0, WORLD[2] + 100.0],
                                            [1_500.0, 2_050.0, 3_150.0, 4_900.0, 5_200.0]))).buffer(8.0, quad_segs=2)
    return {"river": river, "lake": lake, "town": town, "road": road}


@lru_cache(maxsize=1)
def _all_parcels() -> tuple[Parcel, ...]:
    """Fields on a rotated grid over the whole plain of the world extent (window-independent).

    Each grid row draws its widths from its own random stream, so a parcel does not depend on
    which window is asked for. Sizes 200-520 m x 200-400 m (4-21 ha, like French open fields).
    """
    feats = water_and_town()
    ys = np.linspace(WORLD[1], WORLD[3], 600)
    plain = Polygon(np.column_stack(world(
        np.r_[WORLD[0], hills_boundary_x(ys) - 250.0, WORLD[0]], np.r_[WORLD[1], ys, WORLD[3]])))
    allowed = plain.difference(shapely.union_all([
        feats["river"].buffer(120.0), feats["lake"].buffer(100.0),
        feats["town"].buffer(150.0), feats["road"].buffer(20.0)]))
    angle = math.radians(17.0)
    cx, cy = world(-5_000.0, 5_000.0)
    corners, keys, crops = [], [], []
    v, row = -30_000.0, 0
    while v < 30_000.0:
        rng = np.random.default_rng([LANDSCAPE_SEED + 1, row])
        h = rng.uniform(200.0, 400.0)
        u, col = -30_000.0 + rng.uniform(0, 300.0), 0
        while u < 30_000.0:
            w = rng.uniform(200.0, 520.0)
            # 6 m field margins: hedges/tracks between fields stay grassland
            c = np.array([[u + 6, v + 6], [u + w - 6, v + 6], [u + w - 6, v + h - 6], [u + 6, v + h - 6]])
            if rng.uniform() < 0.25:  # some trapezoids for variety
                c[2, 0] -= rng.uniform(0, 0.3 * w)
            keep, crop = rng.uniform() < 0.85, str(rng.choice(CROP_TYPES, p=CROP_WEIGHTS))
            if keep:
                corners.append(np.column_stack([cx + c[:, 0] * math.cos(angle) - c[:, 1] * math.sin(angle),
                                                cy + c[:, 0] * math.sin(angle) + c[:, 1] * math.cos(angle)]))
                keys.append((row, col))
                crops.append(crop)
            u, col = u + w, col + 1
        v, row = v + h, row + 1
    polys = shapely.polygons(np.array(corners))
    shapely.prepare(allowed)
    inside = shapely.contains(allowed, polys)
    return tuple(Parcel("", k, crop, p) for k, crop, p, ok in zip(keys, crops, polys, inside) if ok)


@lru_cache(maxsize=4)
def parcels(win: Window) -> tuple[Parcel, ...]:
    """The fields entirely inside the window, numbered P0001... in grid order."""
    inner = shapely.prepared.prep(win.polygon().buffer(-PIXEL))
    out = [p for p in _all_parcels() if inner.contains(p.geometry)]
    return tuple(Parcel(f"P{i + 1:04d}", p.key, p.crop_type, p.geometry) for i, p in enumerate(out))


@lru_cache(maxsize=1)
def fires() -> tuple[Fire, ...]:
    """The 2022 and 2023 summer fires, in the eastern hills (inside the default AOI)."""
    rng = np.random.default_rng(LANDSCAPE_SEED + 2)
    return (
        Fire("F2022-01", "Feu de la Combe Rousse", date(2022, 7, 24),
             blob(7_800.0, 6_800.0, 1_350.0, 725.0, 32.0, rng, 0.16)),
        Fire("F2023-01", "Feu des Aiguebelles", date(2023, 8, 12),
             blob(8_150.0, 2_500.0, 1_000.0, 525.0, -18.0, rng, 0.16)),
    )


# (id, name, designation, established, centre (world metres | lon/lat), radii (m), angle (deg))
LOCAL_SITES = [
    ("PS01", "Garrigues de la Combe Rousse", "Natura 2000 SAC", "2006-12-12", (7_300.0, 7_400.0), (1_150.0, 750.0), 20.0),
    ("PS02", "Bois Noir Nature Reserve", "Nature Reserve", "1994-05-30", (9_200.0, 6_900.0), (750.0, 550.0), -10.0),
    ("PS03", "Gorges de l'Aiguebelle", "Natura 2000 SPA", "2004-03-01", (8_600.0, 2_100.0), (950.0, 600.0), 60.0),
    ("PS04", "Etang des Salines", "Ramsar Site", "2011-02-02", (1_350.0, 8_100.0), (475.0, 350.0), 25.0),
    ("PS05", "Plateau des Cades", "Regional Nature Park core zone", "2015-09-18", (9_150.0, 9_100.0), (700.0, 600.0), 0.0),
    ("PS06", "Bocage de la Vistrenque", "Natura 2000 SPA", "2009-04-21", (2_000.0, 4_800.0), (1_000.0, 650.0), 15.0),
]
WORLD_SITES = [
    ("PS07", "Sierra de los Halcones", "National Park", "1989-07-04", "ES", (-3.9, 37.6), (14_000.0, 9_000.0), 30.0),
    ("PS08", "Ol Kerani Conservancy", "Community Conservancy", "2008-01-15", "KE", (35.2, -1.5), (26_000.0, 18_000.0), -15.0),
    ("PS09", "Serra do Ventoso", "National Park", "1961-11-21", "BR", (-47.6, -15.4), (22_000.0, 15_000.0), 70.0),
    ("PS10", "Caribou Lakes Wilderness", "Wilderness Area", "1978-06-01", "CA", (-110.5, 58.2), (45_000.0, 30_000.0), 10.0),
    ("PS11", "Kinta Falls Reserve", "Nature Reserve", "1999-03-12", "AU", (146.2, -37.6), (12_000.0, 8_000.0), -40.0),
    ("PS12", "Hokuto Highlands", "Quasi-National Park", "1968-05-01", "JP", (138.3, 36.1), (11_000.0, 7_000.0), 50.0),
    ("PS13", "Fjellvidda", "Landscape Protection Area", "2003-10-10", "NO", (8.2, 60.6), (30_000.0, 20_000.0), 0.0),
    ("PS14", "Anti-Atlas Argan Highlands", "Biosphere Reserve", "1998-12-08", "MA", (-8.9, 30.2), (38_000.0, 24_000.0), 80.0),
]


@lru_cache(maxsize=1)
def local_sites() -> tuple[tuple[dict, Polygon], ...]:
    """(properties, UTM polygon) of the sites inside the default AOI."""
    rng = np.random.default_rng(LANDSCAPE_SEED + 3)
    return tuple(({"id": sid, "name": name, "designation": designation, "established": established, "country": "FR"},
                  blob(x, y, rx, ry, ang, rng, 0.15))
                 for sid, name, designation, established, (x, y), (rx, ry), ang in LOCAL_SITES)


def world_sites() -> list[tuple[dict, Polygon]]:
    """(properties, lon/lat polygon) of the sites elsewhere in the world."""
    rng = np.random.default_rng(LANDSCAPE_SEED + 4)
    out = []
    for sid, name, designation, established, country, (lon, lat), (rx, ry), ang in WORLD_SITES:
        # drawn in a local azimuthal equidistant plane (metres), then unprojected
        aeqd = Transformer.from_crs(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=WGS84", "OGC:CRS84", always_xy=True)
        shape = blob(0.0, 0.0, rx, ry, ang, rng, 0.2)
        poly = shapely.affinity.translate(shape, -ORIGIN[0], -ORIGIN[1])
        out.append(({"id": sid, "name": name, "designation": designation, "established": established,
                     "country": country}, shp_transform(aeqd.transform, poly)))
    return out


def to_wgs84(geom):
    """UTM 31N -> lon/lat (CRS84 axis order)."""
    return shp_transform(_TO_WGS84.transform, geom)


def area_ha(geom_lonlat) -> float:
    """Geodesic area on the WGS84 ellipsoid, hectares."""
    return round(abs(_GEOD.geometry_area_perimeter(geom_lonlat)[0]) / 1e4, 2)
