"""Small helpers for the client tests."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image


def rgba(content: bytes) -> np.ndarray:
    """A PNG/WebP/JPEG as (rows, cols, 4) uint8, alpha 255 where the image has none."""
    return np.asarray(Image.open(io.BytesIO(content)).convert("RGBA"))
