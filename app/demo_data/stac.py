"""STAC 1.0.0 Item / Collection documents for the demo scenes (plain dicts).

Hrefs are relative ("./S2_...tif") so the folder can be moved or served as is.
"""

from __future__ import annotations

from shapely.geometry import mapping
from shapely.geometry.polygon import orient

from . import landscape as L
from . import sentinel2 as S

COLLECTION_ID = "sentinel2-demo"
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/classification/v1.1.0/schema.json",
]


def _eo_bands() -> list[dict]:
    return [{"name": b, "common_name": cn, "center_wavelength": cw, "full_width_half_max": fw}
            for b, (cn, cw, fw) in S.BAND_INFO.items()]


def _lonlat(geom):
    g = orient(L.to_wgs84(geom), 1.0)
    return [round(v, 7) for v in g.bounds], mapping(g)


def scene_files(scene: S.Scene) -> tuple[str, str, str]:
    """File names of one scene in the sentinel2 folder (the Item JSON last)."""
    return f"{scene.id}_reflectance.tif", f"{scene.id}_SCL.tif", f"{scene.id}.json"


def item(scene: S.Scene, cloud_cover: float) -> dict:
    """STAC Item of one scene; ``cloud_cover`` is the % of valid pixels flagged SCL 8/9."""
    bbox, geometry = _lonlat(S.footprint_utm(scene))
    refl_name, scl_name, _ = scene_files(scene)
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": EXTENSIONS,
        "id": scene.id,
        "collection": COLLECTION_ID,
        "bbox": bbox,
        "geometry": geometry,
        "properties": {
            "datetime": scene.datetime,
            "platform": "sentinel-2a",
            "constellation": "sentinel-2",
            "instruments": ["msi"],
            "gsd": L.PIXEL,
            "eo:cloud_cover": round(cloud_cover, 2),
            "proj:epsg": int(L.AOI_CRS.split(":")[1]),
            "proj:shape": [L.SIZE, L.SIZE],
            "proj:transform": list(S.TRANSFORM)[:6],
            "proj:bbox": [L.AOI_X0, L.AOI_Y0, L.AOI_X1, L.AOI_Y1],
            "processing:level": "L2A (synthetic)",
        },
        "assets": {
            "reflectance": {
                "href": f"./{refl_name}",
                "type": COG_TYPE,
                "title": "Surface reflectance B02, B03, B04, B08, B11, B12 (x10000)",
                "roles": ["data", "reflectance"],
                "eo:bands": _eo_bands(),
                "raster:bands": [{"nodata": 0, "data_type": "uint16", "scale": 0.0001, "offset": 0,
                                  "spatial_resolution": L.PIXEL} for _ in S.BANDS],
            },
            "scl": {
                "href": f"./{scl_name}",
                "type": COG_TYPE,
                "title": "Scene classification (Sentinel-2 L2A SCL codes)",
                "roles": ["data"],
                "raster:bands": [{"nodata": 0, "data_type": "uint8", "spatial_resolution": L.PIXEL}],
                "classification:classes": [{"value": v, "name": n} for v, n in S.SCL_CLASSES.items()],
            },
        },
        "links": [
            {"rel": "collection", "href": "./collection.json", "type": "application/json"},
            {"rel": "parent", "href": "./collection.json", "type": "application/json"},
            {"rel": "root", "href": "./collection.json", "type": "application/json"},
        ],
    }


def collection(items: list[dict]) -> dict:
    """STAC Collection over the items (spatial/temporal extent from the items)."""
    bbox, _ = _lonlat(L.aoi_polygon())
    times = sorted(i["properties"]["datetime"] for i in items)
    return {
        "type": "Collection",
        "stac_version": "1.0.0",
        "stac_extensions": EXTENSIONS[:2] + EXTENSIONS[3:],
        "id": COLLECTION_ID,
        "title": "Sentinel-2-like demo scenes (synthetic)",
        "description": "Deterministic synthetic Sentinel-2 L2A-like time series over a 20 km AOI in "
                       "southern France (UTM 31N, 10 m): crop phenology per parcel, two summer fires "
                       "(2022, 2023), clouds and shadows flagged in SCL.",
        "license": "CC0-1.0",
        "keywords": ["sentinel-2", "synthetic", "demo", "ndvi", "burned area"],
        "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [[times[0], times[-1]]]}},
        "summaries": {
            "platform": ["sentinel-2a"], "constellation": ["sentinel-2"], "gsd": [L.PIXEL],
            "proj:epsg": [int(L.AOI_CRS.split(":")[1])], "eo:bands": _eo_bands(),
        },
        "assets": {
            "landcover": {
                "href": "./landcover.tif", "type": COG_TYPE, "title": "Reference land cover used to simulate the scenes",
                "roles": ["data", "labels"],
                "classification:classes": [{"value": v, "name": n} for v, n in S.LANDCOVER_CLASSES.items()],
            }
        },
        "links": [{"rel": "root", "href": "./collection.json", "type": "application/json"}]
        + [{"rel": "item", "href": f"./{i['id']}.json", "type": "application/geo+json"} for i in items],
    }
