"""Rasters -> PNG/WebP/JPEG map images: rescaling, colour maps, hillshade blending, alpha from masks."""
from __future__ import annotations

import io
from functools import lru_cache
from typing import Literal

import numpy as np
from PIL import Image
from rio_tiler.colormap import cmap as _cmaps

from processes.ops import Raster

Format = Literal["png", "webp", "jpeg"]
MEDIA_TYPES = {"png": "image/png", "webp": "image/webp", "jpeg": "image/jpeg"}


def colormap_names() -> list[str]:
    return sorted(_cmaps.list())


@lru_cache(maxsize=64)
def lut(name: str) -> np.ndarray:
    """256x3 uint8 lookup table of a rio-tiler colour map (KeyError when unknown)."""
    cm = _cmaps.get(name)
    return np.array([cm[i][:3] for i in range(256)], np.uint8)


def to_byte(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    scale = 255.0 / (hi - lo) if hi != lo else 0.0
    out = np.clip((values - lo) * scale, 0, 255)
    np.nan_to_num(out, copy=False, nan=0.0)  # invalid pixels (masked anyway): no cast warning
    return out.astype(np.uint8)


def colorize(r: Raster, rescale: tuple[float, float] | None, colormap: str | None) -> np.ndarray:
    """RGB (rows, cols, 3) uint8 of a raster: one band through a colour map, three as RGB."""
    if r.data.shape[0] >= 3 and colormap is None:
        lo, hi = rescale or (0.0, 255.0)
        return np.ascontiguousarray(np.moveaxis(to_byte(r.data[:3], lo, hi), 0, -1))
    band = r.data[0]
    if rescale is None:
        rescale = (0.0, 255.0)
    idx = to_byte(band, *rescale)
    if colormap:
        return lut(colormap)[idx]
    return np.repeat(idx[..., None], 3, axis=-1)


def shade(rgb: np.ndarray, hillshade: Raster, strength: float) -> np.ndarray:
    """Multiply colours by the hillshade (0-255); strength 0 keeps colours, 1 is full shading."""
    f = (1.0 - strength) + strength * (hillshade.data[0] / 255.0)
    return np.clip(rgb * f[..., None], 0, 255).astype(np.uint8)


def encode(rgb: np.ndarray, mask: np.ndarray, fmt: Format) -> bytes:
    """Encode with transparency where the mask is False (JPEG has none: invalid pixels are black)."""
    buf = io.BytesIO()
    if fmt == "jpeg":
        rgb = np.where(mask[..., None], rgb, 0).astype(np.uint8)
        Image.fromarray(rgb, "RGB").save(buf, "JPEG", quality=85)
        return buf.getvalue()
    if mask.all():
        img = Image.fromarray(rgb, "RGB")
    else:
        img = Image.fromarray(np.dstack([rgb, (mask * 255).astype(np.uint8)]), "RGBA")
    if fmt == "png":
        img.save(buf, "PNG", compress_level=1)  # zlevel 1: ~10% larger, 4x faster than 6
    else:
        img.save(buf, "WEBP", quality=85, method=0)
    return buf.getvalue()
