"""Independent expectations for STAC searches, computed from the catalogued Item JSON files
(shapely for the footprints, plain comparisons for time and cloud cover), and the pystac-client
searches the STAC tests run against any backend."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pystac_client
from shapely.geometry import box, shape

COLLECTION = "sentinel2"
START = datetime(2023, 5, 1, tzinfo=timezone.utc)  # what pystac-client sends for datetime="2023-05/2023-09"
END = datetime(2023, 9, 30, 23, 59, 59, tzinfo=timezone.utc)
MAX_CLOUD = 20
# The centre box meets every scene; a footprint that stops short of the east edge (partial swaths,
# e.g. S2_2023-07-21 in today's demo data, 10 km AOI at 4.23-4.36 E) is not found in the
# east-edge box (the last ~600 m of the AOI); nothing is found far away.
BBOXES = {"centre": (4.272, 43.373, 4.321, 43.408), "east-edge": (4.353, 43.372, 4.360, 43.407), "far": (10, 10, 11, 11)}


def item_docs(folder: Path) -> dict[str, dict]:
    docs = (json.loads(p.read_text()) for p in sorted(folder.glob("*.json")))
    return {d["id"]: d for d in docs if d.get("type") == "Feature"}


def when(doc: dict) -> datetime:
    return datetime.fromisoformat(doc["properties"]["datetime"].replace("Z", "+00:00"))


def expected_ids(docs: dict[str, dict], bbox, start=START, end=END, max_cloud=MAX_CLOUD) -> list[str]:
    hits = [d for d in docs.values()
            if shape(d["geometry"]).intersects(box(*bbox)) and start <= when(d) <= end
            and d["properties"]["eo:cloud_cover"] < max_cloud]
    return [d["id"] for d in sorted(hits, key=when, reverse=True)]


def search_ids(stac_url: str, bbox, method: str = "POST") -> list[str]:
    client = pystac_client.Client.open(stac_url)
    search = client.search(collections=[COLLECTION], bbox=list(bbox), datetime="2023-05/2023-09",
                           filter="eo:cloud_cover < 20", sortby="-properties.datetime", method=method)
    return [item.id for item in search.items()]


def check_searches(stac_url: str, docs: dict[str, dict]) -> None:
    """The issue's search, by POST and GET, for each box: exactly the expected items, in order."""
    every = expected_ids(docs, (-180, -90, 180, 90), datetime.min.replace(tzinfo=timezone.utc),
                         datetime.max.replace(tzinfo=timezone.utc), max_cloud=101)
    cloudfree = expected_ids(docs, (-180, -90, 180, 90), datetime.min.replace(tzinfo=timezone.utc),
                             datetime.max.replace(tzinfo=timezone.utc))
    assert len(cloudfree) < len(every), "the demo data must have cloudy scenes for the filter to matter"
    assert expected_ids(docs, BBOXES["centre"]), "no expected item: the test would prove nothing"
    for name, bbox in BBOXES.items():
        want = expected_ids(docs, bbox)
        for method in ("POST", "GET"):
            assert search_ids(stac_url, bbox, method) == want, (name, method)
