"""Crop calendars: the green and dry (senescent or stubble) cover of a parcel on a given day.

Each crop follows green-up, peak, senescence, harvest (an abrupt change from a standing dry or
green crop to stubble over bare soil) and later ploughing; winter crops are sown in autumn and
carry a green cover through winter, summer crops leave the soil bare until May. Meadows are mown
twice (a drop of the green cover that regrows), vineyards keep their rows and are never cut.
Every parcel shifts its calendar by its own random days each year.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

SEED = 4242


@dataclass(frozen=True)
class Calendar:
    g0: float  # green cover in January (autumn-sown crop, 0 for summer crops)
    up: float  # green-up start (day of year)
    peak: float
    gmax: float
    sen0: float  # senescence start / end
    sen1: float
    harvest: float | None
    stubble: float  # dry residue cover after harvest
    plough: float | None
    sow: float | None  # autumn sowing (winter crops)
    g_autumn: float = 0.0  # green cover the autumn sowing reaches by December


CALENDARS = {
    "winter_wheat": Calendar(0.30, 45, 115, 0.90, 150, 180, 193, 0.55, 245, 290, 0.30),
    "rapeseed": Calendar(0.45, 40, 95, 0.92, 135, 165, 178, 0.50, 215, 240, 0.45),
    "maize": Calendar(0.0, 130, 200, 0.93, 235, 275, 262, 0.45, None, None),  # cut while still partly green
    "sunflower": Calendar(0.0, 115, 188, 0.85, 208, 236, 255, 0.35, 300, None),
}
MOWING = (145.0, 215.0)
HARVESTED = tuple(CALENDARS) + ("meadow",)


def _ramp(x: float, a: float, b: float) -> float:
    t = min(max((x - a) / (b - a), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


@lru_cache(maxsize=200_000)
def jitter(key: tuple[int, int], year: int) -> tuple[float, float, float]:
    """(days shift, peak green change, stubble change) of one parcel in one year."""
    rng = np.random.default_rng([SEED, key[0], key[1], year])
    return float(rng.normal(0.0, 6.0)), float(rng.uniform(-0.05, 0.03)), float(rng.uniform(-0.12, 0.12))


@lru_cache(maxsize=200_000)
def soil_brightness(key: tuple[int, int]) -> float:
    """Brightness of a field's soil (moisture, organic matter, tillage): 0.65 (dark) to 1.15."""
    return float(np.random.default_rng([SEED + 1, key[0], key[1]]).uniform(0.65, 1.15))


def _crop(c: Calendar, t: float, dg: float, ds: float) -> tuple[float, float]:
    gmax, stub = c.gmax + dg, min(max(c.stubble + ds, 0.1), 0.8)
    if c.sow is not None and t >= c.sow:  # autumn-sown: bare seedbed, then a slowly greening crop
        return c.g_autumn * _ramp(t, c.sow + 10, c.sow + 70), 0.08
    if c.plough is not None and t >= c.plough:
        return 0.0, 0.08
    if c.harvest is not None and t >= c.harvest:
        return 0.03, stub
    if t < c.up:
        winter_dry = 0.25 if c.g0 == 0 else 0.05  # last year's residue on a summer crop's field
        return c.g0, winter_dry
    if t < c.sen0:
        return c.g0 + (gmax - c.g0) * _ramp(t, c.up, c.peak), 0.05
    green = gmax * (1.0 - _ramp(t, c.sen0, c.sen1)) + 0.04
    return green, min(0.85, (gmax - green) * 0.95 + 0.05)


def _meadow(t: float, dg: float) -> tuple[float, float]:
    green = 0.55 + dg + 0.30 * math.exp(-(((t - 120) / 50) ** 2)) - 0.2 * math.exp(-(((t - 215) / 30) ** 2))
    dry = 0.1
    for m in MOWING:
        if t >= m:
            cut = math.exp(-(t - m) / 18.0)  # regrowth in a few weeks
            green, dry = green * (1 - 0.6 * cut), dry + 0.35 * cut
    return green, dry


def _vineyard(t: float, dg: float) -> tuple[float, float]:
    leaves = _ramp(t, 95, 165) - _ramp(t, 285, 325)
    return 0.10 + (0.45 + dg) * leaves, 0.08 + 0.1 * _ramp(t, 270, 300) * leaves


def cover(crop: str, key: tuple[int, int], d: date) -> tuple[float, float]:
    """(green, dry) cover fractions of a parcel on day d; the rest is bare soil."""
    shift, dg, ds = jitter(key, d.year)
    t = d.timetuple().tm_yday - shift
    if crop == "meadow":
        return _meadow(t, dg)
    if crop == "vineyard":
        return _vineyard(t, dg)
    return _crop(CALENDARS[crop], t, dg, ds)


def harvest_dates(crop: str, key: tuple[int, int], year: int) -> tuple[date, ...]:
    """Days of the abrupt drops of a parcel in a year: the harvest, or the two mowings of a meadow."""
    shift = jitter(key, year)[0]
    if crop == "meadow":
        doys = MOWING
    elif crop in CALENDARS:
        doys = (CALENDARS[crop].harvest,)
    else:
        return ()
    return tuple(date(year, 1, 1) + timedelta(days=math.ceil(doy + shift) - 1) for doy in doys)
