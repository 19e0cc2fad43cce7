"""The demo sizes: the AOI window each one rasterises (the landscape is the same for all).

default: 1024 x 1024 px at 10 m (10.24 km, ~290 parcels), built at first start;
large:   4096 x 4096 px at 10 m (40.96 km, ~6,000 parcels), for benchmarks, built only when asked.
Both carry the full scene calendar (2021-2023, ~130 dates).
"""

from __future__ import annotations

from .landscape import WORLD, Window

SIZES = {
    "default": Window(0.0, 0.0, 1024),
    "large": Window(WORLD[0], WORLD[1], 4096),
}


def window(size: str) -> Window:
    try:
        return SIZES[size]
    except KeyError:
        raise ValueError(f"unknown demo size {size!r}; expected one of {sorted(SIZES)}") from None
