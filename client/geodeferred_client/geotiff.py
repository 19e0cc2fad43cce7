"""GeoTIFF bytes -> (bands x rows x cols float array, affine geotransform, band names).

rasterio when installed (most geospatial environments have it), else tifffile (+ imagecodecs for the
floating-point predictor the service writes): extra `geodeferred-client[tiff]`.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Decoded:
    data: np.ndarray  # (bands, rows, cols) float32, NaN where no data
    transform: tuple[float, float, float, float, float, float]  # x0, dx, 0, y0, 0, dy (GDAL order)
    band_names: tuple[str, ...]
    crs: str | None


def decode(data: bytes) -> Decoded:
    try:
        import rasterio  # noqa: F401
    except ImportError:
        return _tifffile(data)
    return _rasterio(data)


def _rasterio(data: bytes) -> Decoded:
    from rasterio.io import MemoryFile

    with MemoryFile(data) as mem, mem.open() as ds:
        arr = ds.read().astype(np.float32)
        if ds.nodata is not None and not np.isnan(ds.nodata):
            arr[arr == ds.nodata] = np.nan
        names = tuple(d or f"b{i}" for i, d in enumerate(ds.descriptions, 1))
        crs = ds.crs.to_string() if ds.crs else None
        return Decoded(arr, tuple(ds.transform.to_gdal()), names, crs)


def _tifffile(data: bytes) -> Decoded:
    try:
        import tifffile
    except ImportError:
        raise ImportError("reading GeoTIFF results needs rasterio, or: pip install 'geodeferred-client[tiff]'") from None
    import xml.etree.ElementTree as ET

    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        page = tif.pages[0]
        arr = page.asarray()
        arr = arr[None] if arr.ndim == 2 else (np.moveaxis(arr, -1, 0) if page.planarconfig == 1 else arr)
        arr = arr.astype(np.float32)
        sx, sy = page.tags["ModelPixelScaleTag"].value[:2]
        tie = page.tags["ModelTiepointTag"].value
        x0, y0 = tie[3] - tie[0] * sx, tie[4] + tie[1] * sy
        nodata = page.tags.get("GDAL_NODATA")
        if nodata is not None and nodata.value.strip("\x00 ").lower() != "nan":
            arr[arr == float(nodata.value.strip("\x00 "))] = np.nan
        names = [f"b{i}" for i in range(1, arr.shape[0] + 1)]
        meta = page.tags.get("GDAL_METADATA")
        if meta is not None:
            for item in ET.fromstring(meta.value).iter("Item"):
                if item.get("role") == "description" and item.get("sample") is not None:
                    names[int(item.get("sample"))] = item.text or names[int(item.get("sample"))]
        geo = tif.geotiff_metadata or {}
        epsg = geo.get("ProjectedCSTypeGeoKey") or geo.get("GeographicTypeGeoKey")
        crs = f"EPSG:{int(epsg)}" if epsg else None
    return Decoded(arr, (x0, sx, 0.0, y0, 0.0, -sy), tuple(names), crs)
