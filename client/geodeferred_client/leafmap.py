"""leafmap / ipyleaflet integration: lazy images as tile layers, side by side in split maps."""
from __future__ import annotations

from typing import Any


def add_layer(m: Any, obj: Any, name: str | None = None, opacity: float = 1.0, **style: Any) -> Any:
    """Add a lazy image (or a TileLayer) to a leafmap Map (`add_tile_layer`) or an ipyleaflet Map."""
    layer = obj if hasattr(obj, "tilejson") else obj.tile_layer(**style)
    name = name or layer.tilejson.get("name") or "geodeferred"
    if hasattr(m, "add_tile_layer"):
        m.add_tile_layer(layer.url, name=name, attribution="geodeferred", opacity=opacity)
    else:
        import ipyleaflet

        m.add(ipyleaflet.TileLayer(url=layer.url, name=name, attribution="geodeferred", opacity=opacity))
    return layer


def split_map(left: Any, right: Any, left_style: dict | None = None, right_style: dict | None = None,
              left_label: str = "left", right_label: str = "right", **map_kw: Any) -> Any:
    """A leafmap split map of two lazy images (each with its own style)."""
    import leafmap

    lt = left if hasattr(left, "tilejson") else left.tile_layer(**(left_style or {}))
    rt = right if hasattr(right, "tilejson") else right.tile_layer(**(right_style or {}))
    m = leafmap.Map(**map_kw)
    m.split_map(left_layer=lt.url, right_layer=rt.url, left_label=left_label, right_label=right_label)
    return m
