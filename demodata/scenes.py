"""The acquisition calendar: which dates exist, how cloudy, which have a partial swath.

Sentinel-2A and 2B pass every 5 days; in the growing season (March to October) roughly every
5-10 days delivers a usable scene, in winter every 15-25 days. A fixed random stream decides,
so the calendar is the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

from .landscape import fires

FIRST, LAST = date(2021, 1, 2), date(2023, 12, 31)
SEED = 2021


@dataclass(frozen=True)
class Scene:
    date: date
    cloud: float  # target fraction of the AOI under cloud (0 = clear)
    cirrus: float = 0.0  # target fraction under thin cirrus
    swath_cut: float = 0.0  # share of the AOI outside the swath (no-data), 0 = full footprint
    platform: str = "sentinel-2a"

    @property
    def id(self) -> str:
        return f"S2_{self.date.isoformat()}"

    @property
    def datetime(self) -> str:
        return f"{self.date.isoformat()}T10:37:21Z"

    @property
    def seed(self) -> int:
        return self.date.toordinal()


def growing(d: date) -> bool:
    return 3 <= d.month <= 10


@lru_cache(maxsize=1)
def calendar() -> tuple[Scene, ...]:
    rng = np.random.default_rng(SEED)
    near_fire = {f.date + timedelta(days=k) for f in fires() for k in range(-12, 13)}
    out: list[Scene] = []
    last: date | None = None
    d = FIRST
    while d <= LAST:
        gap = (d - last).days if last else 99
        keep_p = 0.55 if growing(d) else 0.3
        keep = (gap >= 10 and growing(d)) or (gap >= 5 and rng.uniform() < keep_p and (growing(d) or gap >= 20))
        if keep:
            r = rng.uniform()
            cloud = 0.0 if r < 0.35 else rng.uniform(0.01, 0.08) if r < 0.6 else rng.uniform(0.1, 0.45) \
                if r < 0.88 else rng.uniform(0.5, 0.85)
            if not growing(d):
                cloud = min(0.9, cloud + 0.15)
            if d in near_fire:  # the fire seasons stay observable: clear scenes just before and after
                cloud = min(cloud, 0.04)
            cirrus = rng.uniform(0.1, 0.5) if rng.uniform() < 0.2 else 0.0
            cut = rng.uniform(0.1, 0.35) if rng.uniform() < 0.12 else 0.0
            out.append(Scene(d, round(cloud, 3), round(cirrus, 3), round(cut, 3),
                             "sentinel-2b" if (d - FIRST).days // 5 % 2 else "sentinel-2a"))
            last = d
        d += timedelta(days=5)
    return tuple(out)
