"""Small hand-built rasters for operation tests."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from processes.ops import Raster


def make_raster(data, names: str | Sequence[str], mask=None, cell: float = 10.0, datetime: str | None = None) -> Raster:
    """A Raster from a (rows, cols) or (bands, rows, cols) array; mask True = valid (default all valid)."""
    data = np.asarray(data, np.float32)
    if data.ndim == 2:
        data = data[None]
    names = (names,) if isinstance(names, str) else tuple(names)
    rows, cols = data.shape[1:]
    mask = np.ones((rows, cols), bool) if mask is None else np.asarray(mask, bool)
    return Raster(data, mask, names, np.full(rows, cell), np.full(rows, cell), datetime)
