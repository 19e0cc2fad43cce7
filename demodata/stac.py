"""STAC 1.0.0 Item / Collection documents for the demo scenes (plain dicts).

Laid out like the public Sentinel-2 L2A collections: one COG asset per band keyed by the band
name (B02..B12, B8A) plus SCL and a thumbnail; per asset ``eo:bands``, ``raster:bands`` (the L2A
scale 0.0001 and offset -0.1, no-data 0) and ``proj:shape``/``proj:transform`` (the 20 m assets
differ from the 10 m ones). Hrefs are relative ("./S2_...tif") so the folder can be moved or
served as is.
"""

from __future__ import annotations

from shapely.geometry import Polygon, mapping
from shapely.geometry.polygon import orient

from . import landscape as L
from . import sentinel2 as S
from . import spectra as SP
from .scenes import Scene

COLLECTION_ID = "sentinel2-demo"
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/classification/v1.1.0/schema.json",
]
ITEM_ASSETS_EXT = "https://stac-extensions.github.io/item-assets/v1.0.0/schema.json"


def eo_band(name: str) -> dict:
    common, centre, fwhm, _ = SP.BAND_INFO[name]
    return {"name": name, "common_name": common, "center_wavelength": centre, "full_width_half_max": fwhm}


def scene_files(scene: Scene) -> dict[str, str]:
    """Asset key -> file name of one scene in the sentinel2 folder."""
    files = {b: f"{scene.id}_{b}.tif" for b in SP.BANDS}
    files["SCL"] = f"{scene.id}_SCL.tif"
    files["thumbnail"] = f"{scene.id}_thumbnail.png"
    return files


def item_file(scene: Scene) -> str:
    return f"{scene.id}.json"


def _proj(win: L.Window, res: float) -> dict:
    n = int(round(win.side / res))
    return {"proj:shape": [n, n], "proj:transform": list(S.transform(win, res))[:6]}


def _band_asset(win: L.Window, name: str, href: str) -> dict:
    res = SP.BAND_INFO[name][3]
    common, centre = SP.BAND_INFO[name][:2]
    return {
        "href": f"./{href}", "type": COG_TYPE, "title": f"{name} ({common}, {int(centre * 1000)} nm) - {res} m",
        "roles": ["data", "reflectance"], "gsd": float(res), "eo:bands": [eo_band(name)],
        "raster:bands": [{"nodata": 0, "data_type": "uint16", "spatial_resolution": float(res),
                          "scale": SP.SCALE, "offset": SP.OFFSET}],
        "proj:epsg": L.EPSG, **_proj(win, res),
    }


def _scl_asset(win: L.Window, href: str) -> dict:
    return {
        "href": f"./{href}", "type": COG_TYPE, "title": "Scene classification map (SCL) - 20 m",
        "roles": ["data", "classification"], "gsd": 20.0,
        "raster:bands": [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 20.0}],
        "classification:classes": [{"value": v, "name": n} for v, n in S.SCL_CLASSES.items()],
        "proj:epsg": L.EPSG, **_proj(win, 20.0),
    }


def footprint_utm(win: L.Window, scene: Scene) -> Polygon:
    """Valid-data footprint of a scene in UTM (the full AOI unless the swath is cut)."""
    w, s, e, n = win.bounds
    if scene.swath_cut <= 0:
        return win.polygon()
    top, bottom = S.swath_edge(win, scene)
    return Polygon([(w, s), (w + bottom, s), (w + top, n), (w, n)])


def _lonlat(geom):
    g = orient(L.to_wgs84(geom), 1.0)
    return [round(v, 7) for v in g.bounds], mapping(g)


def item(win: L.Window, scene: Scene, cloud_cover: float) -> dict:
    """STAC Item of one scene; ``cloud_cover`` is the % of valid SCL pixels flagged 8, 9 or 10."""
    bbox, geometry = _lonlat(footprint_utm(win, scene))
    files = scene_files(scene)
    assets = {b: _band_asset(win, b, files[b]) for b in SP.BANDS}
    assets["SCL"] = _scl_asset(win, files["SCL"])
    assets["thumbnail"] = {"href": f"./{files['thumbnail']}", "type": "image/png", "title": "True colour preview",
                           "roles": ["thumbnail"]}
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
            "platform": scene.platform,
            "constellation": "sentinel-2",
            "instruments": ["msi"],
            "gsd": L.PIXEL,
            "eo:cloud_cover": round(cloud_cover, 2),
            "proj:epsg": L.EPSG,
            **_proj(win, L.PIXEL),  # the 10 m grid; the 20 m assets override it
            "proj:bbox": list(win.bounds),
            "s2:processing_baseline": "05.09",
            "s2:boa_add_offset": -SP.ADD_OFFSET_DN,
            "processing:level": "L2A (synthetic)",
        },
        "assets": assets,
        "links": [
            {"rel": "collection", "href": "./collection.json", "type": "application/json"},
            {"rel": "parent", "href": "./collection.json", "type": "application/json"},
            {"rel": "root", "href": "./collection.json", "type": "application/json"},
        ],
    }


def _item_assets(win: L.Window) -> dict:
    out = {}
    for key, asset in {**{b: _band_asset(win, b, "") for b in SP.BANDS}, "SCL": _scl_asset(win, "")}.items():
        out[key] = {k: v for k, v in asset.items() if k not in ("href", "proj:shape", "proj:transform")}
    out["thumbnail"] = {"type": "image/png", "title": "True colour preview", "roles": ["thumbnail"]}
    return out


def collection(win: L.Window, items: list[dict]) -> dict:
    """STAC Collection over the items (spatial/temporal extent from the items)."""
    bbox, _ = _lonlat(win.polygon())
    times = sorted(i["properties"]["datetime"] for i in items)
    return {
        "type": "Collection",
        "stac_version": "1.0.0",
        "stac_extensions": EXTENSIONS + [ITEM_ASSETS_EXT],
        "id": COLLECTION_ID,
        "title": "Sentinel-2 L2A-like demo scenes (synthetic)",
        "description": f"Deterministic synthetic Sentinel-2 L2A-like time series over a {win.side / 1000:g} km AOI in "
                       "southern France (UTM 31N, 10 and 20 m bands, L2A scale and offset): crop phenology and "
                       "harvest per parcel, forest, two summer fires (2022, 2023) with slow regrowth, clouds, "
                       "cloud shadows and cirrus flagged in SCL.",
        "license": "CC0-1.0",
        "keywords": ["sentinel-2", "synthetic", "demo", "ndvi", "burned area"],
        "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [[times[0], times[-1]]]}},
        "summaries": {
            "platform": sorted({i["properties"]["platform"] for i in items}), "constellation": ["sentinel-2"],
            "instruments": ["msi"], "gsd": [10.0, 20.0], "proj:epsg": [L.EPSG],
            "eo:bands": [eo_band(b) for b in SP.BANDS],
            "eo:cloud_cover": {"minimum": min(i["properties"]["eo:cloud_cover"] for i in items),
                               "maximum": max(i["properties"]["eo:cloud_cover"] for i in items)},
        },
        "item_assets": _item_assets(win),
        "assets": {
            "landcover": {
                "href": "../landcover.tif", "type": COG_TYPE,
                "title": "Reference land cover used to simulate the scenes", "roles": ["data", "labels"],
                "classification:classes": [{"value": v, "name": n} for v, n in S.LANDCOVER_CLASSES.items()],
            }
        },
        "links": [{"rel": "root", "href": "./collection.json", "type": "application/json"}]
        + [{"rel": "item", "href": f"./{i['id']}.json", "type": "application/geo+json"} for i in items],
    }
