"""Named map styles of a raster collection (OGC API - Styles / Maps "styled map tiles").

A style is a name for a map query (the parameters `/map/tiles` takes): hillshade, slope and colour
relief for elevation, true and false colour and indices for reflectance. Which styles a collection
has follows from its band names, so a new collection with Sentinel-2 band names gets them too.
A client that reads the standards finds them at `/collections/{id}/styles` and their tiles at
`/collections/{id}/styles/{style}/map/tiles/{tms}/{z}/{y}/{x}`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .errors import NotFound
from .services import Services


@dataclass(frozen=True)
class Style:
    id: str
    title: str
    description: str
    query: Mapping[str, str]


def _rescale(services: Services, cid: str, fallback: str) -> str:
    cfg = services.catalog.rasters[cid].config.render
    return ",".join(f"{v:g}" for v in cfg.rescale) if cfg.rescale else fallback


def _elevation(services: Services, cid: str, band: str) -> list[Style]:
    relief = _rescale(services, cid, "0,4000")
    return [
        Style("elevation", "Elevation", "Elevation through the terrain colour map.",
              {"bands": band, "colormap": "terrain", "rescale": relief}),
        Style("hillshade", "Hillshade", "Shaded relief (Horn's method on ground distances, light from the north-west).",
              {"bands": band, "algorithm": "hillshade"}),
        Style("colour-relief", "Colour relief", "Elevation colours shaded by the hillshade.",
              {"bands": band, "algorithm": "hillshade", "colormap": "terrain", "rescale": relief, "blend": "0.6"}),
        Style("slope", "Slope", "Slope in degrees (0-60).",
              {"bands": band, "algorithm": "slope", "colormap": "magma_r", "rescale": "0,60"}),
        Style("aspect", "Aspect", "Downslope direction, degrees clockwise from north (cyclic colours).",
              {"bands": band, "algorithm": "aspect", "colormap": "twilight", "rescale": "0,360"}),
    ]


def _reflectance(services: Services, cid: str, bands: tuple[str, ...]) -> list[Style]:
    out = []
    scale = _rescale(services, cid, "0,0.3")
    if {"B04", "B03", "B02"} <= set(bands):
        out.append(Style("true-colour", "True colour", "Red, green, blue (B04, B03, B02).",
                         {"bands": "B04,B03,B02", "rescale": scale}))
    if {"B08", "B04", "B03"} <= set(bands):
        out.append(Style("false-colour", "False colour (vegetation red)", "Near infrared, red, green (B08, B04, B03).",
                         {"bands": "B08,B04,B03", "rescale": scale}))
    if {"B08", "B04"} <= set(bands):
        out.append(Style("ndvi", "NDVI", "Normalized difference vegetation index (B08 - B04) / (B08 + B04).",
                         {"algorithm": "normalized_difference", "a": "B08", "b": "B04", "name": "ndvi",
                          "colormap": "rdylgn", "rescale": "-0.2,0.8"}))
    if {"B08", "B12"} <= set(bands):
        out.append(Style("nbr", "NBR", "Normalized burn ratio (B08 - B12) / (B08 + B12); burned land is low.",
                         {"algorithm": "normalized_difference", "a": "B08", "b": "B12", "name": "nbr",
                          "colormap": "rdylgn", "rescale": "-0.5,0.8"}))
    return out


def styles_of(services: Services, cid: str) -> list[Style]:
    """The styles of a raster collection ("default" first: the collection's own rendering)."""
    default = Style("default", "Default", "The collection's default rendering.", {})
    entry = services.catalog.rasters.get(cid)
    if entry is None:  # a workflow result: its values are what the workflow computes
        return [default]
    bands = tuple(entry.collection.band_names)
    elevation = next((b for b in bands if b.lower() in ("elevation", "dem", "height", "altitude")), None)
    out = [default]
    if elevation:
        out += _elevation(services, cid, elevation)
    return out + _reflectance(services, cid, bands)


def get_style(services: Services, cid: str, sid: str) -> Style:
    for style in styles_of(services, cid):
        if style.id == sid:
            return style
    raise NotFound(f"collection '{cid}' has no style '{sid}'; see /collections/{cid}/styles")
