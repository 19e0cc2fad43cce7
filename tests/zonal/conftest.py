"""Synthetic Sentinel-2-like scenes for the zonal tests: per-band COGs (B04, B08, SCL) on a 10 m
UTM grid, a few dates (two scenes on one day, one all-cloud day), and parcels of every awkward kind."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely.affinity
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon, box, mapping
from shapely.ops import transform as shp_transform

from processes.engine.sources import Asset, Item, ItemSource
from tests.engine.conftest import write_cog

CRS = "EPSG:32631"
X0, Y1, RES, H, W = 500000.0, 4800000.0, 10.0, 300, 400  # the raster: 4 km x 3 km
# scene id, datetime, bounds (a partial footprint for the second scene of 2023-05-10), cloud fraction
SCENES = [("s1", "2023-04-01T10:30:00Z", None, 0.0), ("s2", "2023-05-10T10:30:00Z", (0, 0, 200, 300), 0.2),
          ("s3", "2023-05-10T10:31:00Z", (200, 0, 400, 300), 0.0), ("s4", "2023-06-02T10:30:00Z", None, 1.0),
          ("s5", "2023-07-15T10:30:00Z", None, 0.4)]
TO_UTM = Transformer.from_crs("OGC:CRS84", CRS, always_xy=True)
TO_LL = Transformer.from_crs(CRS, "OGC:CRS84", always_xy=True)


def utm_parcels() -> dict[str, object]:
    """Parcels in UTM metres: straddling chunk borders (64 px chunks in the tests), sub-pixel,
    with a hole, multipart, partly and wholly outside the raster, and ordinary ones."""
    x, y = X0, Y1
    out = {
        "ordinary": Polygon([(x + 103, y - 97), (x + 457, y - 121), (x + 430, y - 388), (x + 111, y - 350)]),
        "straddle": box(x + 600.3, y - 700.6, x + 700.2, y - 600.4),  # across the 640 m chunk lines
        "corner": Polygon([(x + 1250, y - 1250), (x + 1310, y - 1234), (x + 1295, y - 1330)]),
        "subpixel": box(x + 1503.2, y - 1507.9, x + 1506.1, y - 1503.3),
        "holed": Polygon([(x + 2000, y - 200), (x + 2400, y - 210), (x + 2390, y - 600), (x + 2010, y - 590)],
                         [[(x + 2100, y - 300), (x + 2300, y - 300), (x + 2300, y - 500), (x + 2100, y - 500)]]),
        "multi": MultiPolygon([box(x + 2600, y - 1000, x + 2733.3, y - 900),
                               Polygon([(x + 2900, y - 950), (x + 3050, y - 1000), (x + 3000, y - 1210)])]),
        "edge": box(x + 3900, y - 2100, x + 4150, y - 1900),  # the east half is outside the raster
        "outside": box(x + 5000, y - 500, x + 5200, y - 300),
    }
    for k in range(30):  # a field of small parcels across several chunks
        cx, cy = x + 200 + (k % 6) * 610, y - 1800 - (k // 6) * 230
        out[f"f{k:02d}"] = Polygon([(cx, cy), (cx + 173, cy + 11), (cx + 160, cy - 147), (cx - 9, cy - 133)])
    # off the pixel grid: exactextract counts cells that a vertex on a pixel corner touches with a
    # float-noise coverage (~1e-21) as weighted-quantile elements, which moves its interpolation
    return {k: shapely.affinity.translate(g, 0.37, -0.21) for k, g in out.items()}


def to_feature(fid: str, geom) -> dict:
    ll = shp_transform(lambda xs, ys: TO_LL.transform(xs, ys), geom)
    return {"type": "Feature", "id": fid, "geometry": mapping(ll), "properties": {"name": fid, "kind": fid[:1]}}


def reflectance(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    red = (0.05 + 0.04 * np.sin(xx / 17.0 + seed) * np.cos(yy / 11.0) + rng.uniform(0, 0.02, (H, W))).astype(np.float32)
    nir = (0.30 + 0.15 * np.sin(xx / 29.0 - seed) + rng.uniform(0, 0.05, (H, W))).astype(np.float32)
    return red, nir


def scl(seed: int, cloudy: float) -> np.ndarray:
    rng = np.random.default_rng(100 + seed)
    out = np.full((H, W), 4, np.uint8)  # vegetation
    clouds = rng.uniform(size=(H // 10, W // 10)) < cloudy
    out[np.kron(clouds, np.ones((10, 10), bool))] = 9
    out[:, :5] = 0 if cloudy else 4
    return out


@pytest.fixture(scope="session")
def s2(tmp_path_factory) -> ItemSource:
    d: Path = tmp_path_factory.mktemp("zonal-s2")
    items = []
    for k, (sid, dt, cols, cloudy) in enumerate(SCENES):
        red, nir = reflectance(k)
        cls = scl(k, cloudy)
        if cols is not None:  # a partial footprint: nodata elsewhere
            keep = np.zeros((H, W), bool)
            keep[:, cols[0]:cols[2]] = True
            red, nir = np.where(keep, red, np.nan).astype(np.float32), np.where(keep, nir, np.nan).astype(np.float32)
            cls = np.where(keep, cls, 0).astype(np.uint8)
        bounds = (X0, Y1 - H * RES, X0 + W * RES, Y1)
        assets = (Asset(write_cog(d / f"{sid}_B04.tif", red[None], CRS, bounds, ["B04"], float("nan")), ("B04",)),
                  Asset(write_cog(d / f"{sid}_B08.tif", nir[None], CRS, bounds, ["B08"], float("nan")), ("B08",)),
                  Asset(write_cog(d / f"{sid}_SCL.tif", cls[None], CRS, bounds, ["SCL"], 0, resampling="nearest"),
                        ("SCL",), "nearest"))
        items.append(Item(sid, assets, dt))
    return ItemSource("s2", tuple(items), "v1")  # no cloud mask in its mosaics: the tests mask SCL explicitly


@pytest.fixture(scope="session")
def parcels() -> list[dict]:
    return [to_feature(k, g) for k, g in utm_parcels().items()]
