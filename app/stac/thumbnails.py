"""A small true-colour PNG preview of one STAC Item, rendered once from its own COGs (overviews).

The bands are found by name in the assets' `eo:bands` (one multi-band asset or one asset per band);
each is stretched between its 2nd and 98th percentile of valid pixels, no-data is transparent.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from PIL import Image

SIZE = 256
DEFAULT_BANDS = ("B04", "B03", "B02")


def _band_sources(doc: dict[str, Any], folder: Path, names: tuple[str, ...]) -> list[tuple[Path, int]] | None:
    """(file, 1-based band index) of each named band, or None when one is missing or not local."""
    found: dict[str, tuple[Path, int]] = {}
    for key, asset in doc.get("assets", {}).items():
        href = str(asset.get("href", ""))
        if "://" in href or not str(asset.get("type", "image/tiff")).startswith("image/tiff"):
            continue
        bands = [b.get("name") for b in asset.get("eo:bands") or asset.get("bands") or []] or [key]
        for i, name in enumerate(bands, start=1):
            found.setdefault(name, (folder / href if not os.path.isabs(href) else Path(href), i))
    if not all(n in found for n in names):
        return None
    return [found[n] for n in names]


def _stretch(band: np.ndarray, valid: np.ndarray) -> np.ndarray:
    if not valid.any():
        return np.zeros(band.shape, np.uint8)
    lo, hi = np.percentile(band[valid], [2, 98])
    scaled = (band.astype(np.float64) - lo) / max(hi - lo, 1e-12)
    return (np.clip(scaled, 0, 1) * 255).astype(np.uint8)


def render_thumbnail(doc: dict[str, Any], folder: Path, out: Path, bands: list[str] | None = None) -> Path | None:
    """Write (once) and return the item's preview PNG; None when its bands cannot be found locally."""
    if out.is_file():
        return out
    sources = _band_sources(doc, folder, tuple(bands or DEFAULT_BANDS))
    if sources is None:
        return None
    channels, valid = [], None
    for path, index in sources:
        with rasterio.open(path) as ds:
            scale = SIZE / max(ds.width, ds.height)
            shape = (max(1, round(ds.height * scale)), max(1, round(ds.width * scale)))
            data = ds.read(index, out_shape=shape, masked=True)
        mask = ~np.ma.getmaskarray(data)
        valid = mask if valid is None else valid & mask
        channels.append(np.ma.getdata(data))
    rgb = [_stretch(c, valid) for c in channels]
    alpha = valid.astype(np.uint8) * 255
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.{os.getpid()}")
    Image.fromarray(np.dstack(rgb + [alpha]), "RGBA").save(tmp, format="PNG")
    os.replace(tmp, out)
    return out
