"""What the Sentinel-2 demo scenes show, read back from the COGs with the STAC scale and offset:
plausible spectra, crop phenology and harvests, clouds, shadows and cirrus, fire scars with slow
recovery, and a burned-area method that must tell fires from harvests (checked against truth).
"""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from demodata import landscape, sentinel2, truth
from demodata.scenes import calendar

from .conftest import band, clear, item_doc, nbr, ndvi, scl

FIRE_WINDOWS = {  # (pre-fire, post-fire) date ranges of the two fire seasons
    "F2022-01": (("2022-06-01", "2022-07-23"), ("2022-07-25", "2022-09-30")),
    "F2023-01": (("2023-06-15", "2023-08-11"), ("2023-08-13", "2023-09-30")),
}


def days(demo, start: str, end: str, max_cloud: float = 100.0) -> list[str]:
    return [s.date.isoformat() for s in calendar() if start <= s.date.isoformat() <= end
            and item_doc(demo, s.date.isoformat())["properties"]["eo:cloud_cover"] <= max_cloud]


def median_composite(demo, dates: list[str], index) -> np.ndarray:
    """Per-pixel median of an index over the dates, clouds/shadows/cirrus/no-data masked by SCL."""
    stack = []
    for d in dates:
        v = index(demo, d)
        v[~clear(demo, d)] = np.nan
        stack.append(v)
    return np.nanmedian(np.stack(stack), axis=0)


def parcel_means(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Mean per parcel index (index 0 = no parcel) over valid pixels; NaN where none."""
    pidx = truth.parcel_index()
    ok = valid & np.isfinite(values) & (pidx > 0)
    n = np.bincount(pidx[ok], minlength=pidx.max() + 1)
    s = np.bincount(pidx[ok], weights=values[ok], minlength=pidx.max() + 1)
    return np.where(n > 20, s / np.maximum(n, 1), np.nan)


def clearest(demo, start: str, end: str, over: np.ndarray | None = None) -> str:
    """The date in the range with the fewest cloudy pixels (over a mask, or the whole scene)."""
    cands = days(demo, start, end)
    if over is None:
        return min(cands, key=lambda d: item_doc(demo, d)["properties"]["eo:cloud_cover"])
    return max(cands, key=lambda d: (clear(demo, d) & over).sum())


def test_spectra_are_plausible(demo):
    day = clearest(demo, "2022-06-01", "2022-07-20")
    ok = clear(demo, day)
    lc = truth.landcover()
    b = {name: band(demo, day, name) for name in ("B02", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12")}
    forest = ok & (lc == sentinel2.FOREST)
    med = {k: float(np.nanmedian(v[forest])) for k, v in b.items()}
    assert med["B04"] < med["B05"] < med["B06"] < med["B07"] < med["B8A"]  # the red edge
    assert med["B08"] > 0.2 and med["B04"] < 0.05 and med["B12"] < med["B11"] < med["B08"]
    assert np.nanmedian(ndvi(demo, day)[forest]) > 0.7
    water = ok & (lc == sentinel2.WATER)
    assert np.nanmedian(b["B08"][water]) < 0.05 < np.nanmedian(b["B02"][water])
    bare = ok & (lc == sentinel2.BARE)
    assert np.nanmedian(b["B11"][bare]) > np.nanmedian(b["B8A"][bare]) > np.nanmedian(b["B04"][bare])
    for v in b.values():  # reflectance, not digital numbers: the scale and offset are right
        assert -0.01 <= np.nanmin(v[ok]) and np.nanmax(v[ok]) < 0.8


def test_crop_phenology(demo):
    crops = np.array([""] + list(truth.parcel_crops().values()))
    spring = clearest(demo, "2022-04-20", "2022-05-20")
    summer = clearest(demo, "2022-07-15", "2022-08-10")
    ns = parcel_means(ndvi(demo, spring), clear(demo, spring))
    nu = parcel_means(ndvi(demo, summer), clear(demo, summer))
    wheat, maize = crops == "winter_wheat", crops == "maize"
    assert np.nanmedian(ns[wheat]) > 0.65 and np.nanmedian(nu[wheat]) < 0.35
    assert np.nanmedian(nu[maize]) > 0.7 and np.nanmedian(ns[maize]) < 0.35
    assert np.nanmedian(nu[crops == "vineyard"]) > 0.4


def test_harvest_is_an_abrupt_drop_after_the_truth_date(demo):
    """Maize cut while partly green, meadows mown: NDVI falls between the last clear scene before
    the harvest date and the first one after it; NIR falls and SWIR rises, as on a fire scar."""
    crops = truth.parcel_crops()
    ids = list(crops)
    drops, nir, swir = [], [], []
    for pid, years in truth.harvest_dates().items():
        if crops[pid] not in ("maize", "meadow"):
            continue
        h = years[2022][0]
        before = days(demo, (h - timedelta(12)).isoformat(), (h - timedelta(1)).isoformat(), 5)
        after = days(demo, h.isoformat(), (h + timedelta(12)).isoformat(), 5)
        if not before or not after:
            continue
        i = ids.index(pid) + 1
        a, b = before[-1], after[0]
        m = truth.parcel_index() == i
        ok = m & clear(demo, a) & clear(demo, b)
        if ok.sum() < 50:
            continue
        drops.append(np.mean(ndvi(demo, a)[ok] - ndvi(demo, b)[ok]))
        nir.append(np.mean(band(demo, b, "B08")[ok] - band(demo, a, "B08")[ok]))
        swir.append(np.mean(band(demo, b, "B12")[ok] - band(demo, a, "B12")[ok]))
    assert len(drops) >= 15
    assert np.median(drops) > 0.15 and np.median(nir) < -0.05 and np.median(swir) > 0.03


def test_clouds_shadows_and_cirrus_are_flagged(demo):
    cloudy = max(days(demo, "2022-03-01", "2022-10-31", 60), key=lambda d: item_doc(demo, d)["properties"]["eo:cloud_cover"])
    s = scl(demo, cloudy)
    b02, b08 = band(demo, cloudy, "B02"), band(demo, cloudy, "B08")
    ok = np.isin(s, (4, 5))
    assert (s == 9).mean() > 0.02 and np.nanmedian(b02[s == 9]) > 0.35 > np.nanpercentile(b02[ok], 99)
    assert np.nanmedian(b08[s == 3]) < 0.7 * np.nanmedian(b08[ok])  # shadows are darker
    cirrus_day = next(s.date.isoformat() for s in calendar() if s.cirrus > 0.2 and s.cloud == 0 and s.swath_cut == 0)
    c = scl(demo, cirrus_day)
    assert (c == 10).mean() > 0.1
    lc = truth.landcover()
    forest_b02 = band(demo, cirrus_day, "B02")
    thin, free = (c == 10) & (lc == sentinel2.FOREST), (c == 4) & (lc == sentinel2.FOREST)
    assert np.nanmedian(forest_b02[thin]) > np.nanmedian(forest_b02[free]) + 0.005  # a veil, not a cloud
    assert np.nanmedian(forest_b02[thin]) < 0.2


@pytest.mark.parametrize("fire", landscape.fires(), ids=lambda f: f.id)
def test_fire_scar_drops_nir_raises_swir_and_recovers(demo, fire):
    burned = truth.burned_masks()[fire.id]
    pre = clearest(demo, (fire.date - timedelta(20)).isoformat(), (fire.date - timedelta(1)).isoformat(), burned)
    post = clearest(demo, (fire.date + timedelta(1)).isoformat(), (fire.date + timedelta(20)).isoformat(), burned)
    ok = burned & clear(demo, pre) & clear(demo, post)
    assert ok.sum() * 100 / 1e4 > 0.8 * truth.burned_area_ha()[fire.id]
    dnbr = nbr(demo, pre) - nbr(demo, post)
    assert np.median(dnbr[ok]) > 0.35 and np.percentile(dnbr[ok], 5) > 0.27
    assert np.median(band(demo, post, "B08")[ok]) < np.median(band(demo, pre, "B08")[ok]) - 0.1
    forest = ok & (truth.landcover() == sentinel2.FOREST)  # char and ash are brighter in SWIR than leaves
    assert np.median(band(demo, post, "B12")[forest]) > np.median(band(demo, pre, "B12")[forest]) + 0.1
    assert np.median(band(demo, post, "B12")[ok]) > np.median(band(demo, pre, "B12")[ok])
    forest = (truth.landcover() == sentinel2.FOREST) & ~truth.burned_any() & clear(demo, pre) & clear(demo, post)
    assert abs(np.median(dnbr[forest])) < 0.05
    if fire.date.year == 2022:  # a year later the scar is still there, but greener
        later = clearest(demo, "2023-07-10", "2023-08-10", burned)
        ok2 = ok & clear(demo, later)
        n_pre, n_post, n_later = (np.median(nbr(demo, d)[ok2]) for d in (pre, post, later))
        assert n_post + 0.1 < n_later < n_pre - 0.1


def test_a_good_burned_area_method_finds_the_truth_and_a_naive_one_mistakes_harvest(demo):
    """dNBR > 0.27 of cloud-free median composites before/after each fire season. Excluding
    cropland gives the true burned area within 5 % and no false burn on the unburned sites; the
    same threshold without the exclusion flags harvested and mown parcels as burned."""
    lc = truth.landcover()
    sites = truth.site_masks()
    unburned = truth.unburned_sites()
    assert "PS06" in unburned
    for fid, (pre, post) in FIRE_WINDOWS.items():
        dnbr = median_composite(demo, days(demo, *pre), nbr) - median_composite(demo, days(demo, *post), nbr)
        others = np.logical_or.reduce([m for f, m in truth.burned_masks().items() if f != fid])
        naive = (dnbr > 0.27) & ~others
        good = naive & (lc != sentinel2.CROPLAND)
        area = truth.pixel_area_m2("default", *np.nonzero(good)).sum() / 1e4
        assert area == pytest.approx(truth.burned_area_ha()[fid], rel=0.05)
        for sid in unburned:
            assert good[sites[sid]].sum() * 100 / 1e4 < 1.0, sid
        for sid, per_fire in truth.site_burned_ha().items():
            found = truth.pixel_area_m2("default", *np.nonzero(good & sites[sid])).sum() / 1e4
            assert found == pytest.approx(per_fire[fid], rel=0.05, abs=1.0), (fid, sid)
        assert naive[sites["PS06"]].sum() * 100 / 1e4 > 10  # harvest looks like fire to NBR alone
        # nor does SWIR alone: the SWIR rises of harvested crops and of burned pixels overlap
        swir = median_composite(demo, days(demo, *post), lambda d, x: band(d, x, "B12")) \
            - median_composite(demo, days(demo, *pre), lambda d, x: band(d, x, "B12"))
        crop_false = naive & (lc == sentinel2.CROPLAND)
        burned = truth.burned_masks()[fid]
        lo_c, hi_c = np.nanpercentile(swir[crop_false], [5, 95])
        lo_b, hi_b = np.nanpercentile(swir[burned], [5, 95])
        assert lo_c < hi_b and lo_b < hi_c, ((lo_c, hi_c), (lo_b, hi_b))
    assert date(2022, 1, 1) < landscape.fires()[0].date < date(2023, 1, 1) < landscape.fires()[1].date
