"""A small true-colour PNG preview per scene (the STAC `thumbnail` asset)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .spectra import to_reflectance
from .writers import atomic_output

SIDE = 256


def write_thumbnail(path: Path, red: np.ndarray, green: np.ndarray, blue: np.ndarray) -> None:
    """Decimate the 10 m DN bands to ~256 px, stretch reflectance 0..0.3 with a gamma, save as PNG."""
    step = max(1, red.shape[0] // SIDE)
    rgb = np.stack([to_reflectance(b[::step, ::step]) for b in (red, green, blue)], axis=-1)
    img = (np.clip(rgb / 0.3, 0.0, 1.0) ** (1 / 1.8) * 255).astype(np.uint8)
    img[(red[::step, ::step] == 0)] = 0
    with atomic_output(path) as tmp:
        Image.fromarray(img, "RGB").save(tmp, format="PNG", compress_level=1)
