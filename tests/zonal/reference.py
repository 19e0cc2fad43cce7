"""The independent reference: per-date NDVI rasters built with numpy from the COG files, cloud
classes removed, and exactextract's statistics of the parcels on them."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from shapely.geometry import shape

from processes.engine.sources import ItemSource

CLOUD = (0, 1, 3, 8, 9, 10)  # the SCL classes the default cloud mask removes (documented default)


def _read(href: str) -> np.ndarray:
    with rasterio.open(href) as ds:
        return ds.read(1).astype(np.float32)


def ndvi_rasters(coll: ItemSource, folder: Path, expr=None) -> dict[str, str]:
    """day -> path of a float32 GeoTIFF (NaN = missing) of the masked NDVI mosaic of that day."""
    days: dict[str, list] = {}
    for item in coll.items:
        days.setdefault(item.datetime[:10], []).append(item)
    out = {}
    for day, items in sorted(days.items()):
        items = sorted(items, key=lambda i: i.datetime, reverse=True)  # newest on top
        red = nir = cls = None
        for it in items:
            bands = {a.bands[0]: _read(a.href) for a in it.assets}
            ok = np.isfinite(bands["B04"]) & np.isfinite(bands["B08"])
            if red is None:
                red, nir = np.where(ok, bands["B04"], np.nan), np.where(ok, bands["B08"], np.nan)
                cls = bands["SCL"].copy()
            else:
                fill = ~(np.isfinite(red) & np.isfinite(nir)) & ok
                red[fill], nir[fill] = bands["B04"][fill], bands["B08"][fill]
                cfill = (cls == 0) & (bands["SCL"] != 0)
                cls[cfill] = bands["SCL"][cfill]
        with np.errstate(all="ignore"):
            v = (nir - red) / (nir + red) if expr is None else expr(red, nir)
        v = np.where(np.isin(cls, CLOUD), np.nan, v).astype(np.float32)
        with rasterio.open(items[0].assets[0].href) as ds:
            profile = {"driver": "GTiff", "width": ds.width, "height": ds.height, "count": 1, "dtype": "float32",
                       "crs": ds.crs, "transform": ds.transform, "nodata": float("nan")}
        path = folder / f"ref_{day}.tif"
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(v[None])
        out[day] = str(path)
    return out


def exactextract_stats(raster: str, features: list[dict], ops: list[str], crs: str) -> list[dict]:
    from exactextract import exact_extract

    gdf = gpd.GeoDataFrame({"fid": [f["id"] for f in features]},
                           geometry=[shape(f["geometry"]) for f in features], crs="OGC:CRS84").to_crs(crs)
    df = exact_extract(raster, gdf, ops, include_cols=["fid"], output="pandas")
    return df.to_dict("records")
