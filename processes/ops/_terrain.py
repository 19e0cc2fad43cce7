"""Horn's 3x3 gradient on ground distances, shared by hillshade, slope and aspect."""
from __future__ import annotations

import numpy as np

from ._base import Raster, neighbourhood_valid


def horn_gradient(r: Raster, z_factor: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (dz/d_east, dz/d_north, valid) for band 0, same shape as the raster.

    Uses per-row ground cell sizes so the result does not depend on the zoom level or latitude.
    Edge pixels (no full neighbourhood) are invalid; the engine reads a 1-pixel halo for them.
    """
    z = r.data[0]
    rows, cols = z.shape
    p = np.zeros((rows, cols), np.float32)
    q = np.zeros((rows, cols), np.float32)
    if rows >= 3 and cols >= 3:
        a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
        d, f = z[1:-1, :-2], z[1:-1, 2:]
        g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
        cx = (8.0 / z_factor) * r.cell_x[1:-1, None].astype(np.float32)
        cy = (8.0 / z_factor) * r.cell_y[1:-1, None].astype(np.float32)
        p[1:-1, 1:-1] = ((c + 2 * f + i) - (a + 2 * d + g)) / cx
        # rows run southwards: north-facing derivative is top minus bottom
        q[1:-1, 1:-1] = ((a + 2 * b + c) - (g + 2 * h + i)) / cy
    valid = neighbourhood_valid(r.mask, 1)
    return p, q, valid
