"""Encodings of zonal results (GeoJSON features carrying a `series` of per-date statistics).

- GeoJSON: a FeatureCollection, each feature's properties holding its `series` (a list of
  `{datetime, valid_fraction, mean, ...}`), the shape notebooks and QGIS read;
- NDJSON: one such feature per line, written as soon as it is computed (streaming);
- CSV and GeoParquet: long tables, one row per feature and date (GeoParquet 1.0: WKB geometry
  with the `geo` metadata, CRS84), for pandas, DuckDB, GeoPandas and QGIS.
Missing statistics (a date without any clear pixel) are empty/null, never zero.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterable, Iterator

GEOJSON = "application/geo+json"
NDJSON = "application/x-ndjson"
CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"
MEDIA_TYPES = (GEOJSON, NDJSON, CSV, PARQUET)
EXTENSIONS = {GEOJSON: "geojson", NDJSON: "ndjson", CSV: "csv", PARQUET: "parquet"}


def feature(record: dict[str, Any]) -> dict[str, Any]:
    props = dict(record["properties"])
    props["series"] = record["series"]
    return {"type": "Feature", "id": record["id"], "geometry": record["geometry"], "properties": props}


def geojson(records: Iterable[dict[str, Any]]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": [feature(r) for r in records]},
                      separators=(",", ":")).encode()


def ndjson(records: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    for r in records:
        yield json.dumps(feature(r), separators=(",", ":")).encode() + b"\n"


def rows(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """One flat row per feature and date: id, the feature's properties, then the statistics."""
    for r in records:
        for s in r["series"]:
            yield {"id": r["id"], **{k: v for k, v in r["properties"].items() if not isinstance(v, (dict, list))}, **s}


def csv_bytes(records: Iterable[dict[str, Any]]) -> bytes:
    table = list(rows(records))
    out = io.StringIO()
    if table:
        names = list(dict.fromkeys(k for row in table for k in row))
        w = csv.DictWriter(out, names, lineterminator="\n")
        w.writeheader()
        w.writerows(table)
    return out.getvalue().encode()


def parquet_bytes(records: Iterable[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import shapely

    records = list(records)
    table = []
    geoms = []
    for r in records:
        wkb = shapely.to_wkb(shapely.from_geojson(json.dumps(r["geometry"]))) if r["geometry"] else None
        for row in rows([r]):
            table.append(row)
            geoms.append(wkb)
    names = list(dict.fromkeys(k for row in table for k in row))
    cols = {n: [row.get(n) for row in table] for n in names}
    cols["id"] = [None if v is None else str(v) for v in cols.get("id", [])]
    t = pa.table({**cols, "geometry": pa.array(geoms, pa.binary())})
    types = sorted({shapely.from_wkb(g).geom_type for g in set(geoms) if g is not None})
    geo = {"version": "1.0.0", "primary_column": "geometry",
           "columns": {"geometry": {"encoding": "WKB", "geometry_types": types}}}  # no crs: OGC:CRS84
    t = t.replace_schema_metadata({b"geo": json.dumps(geo).encode()})
    buf = io.BytesIO()
    pq.write_table(t, buf)
    return buf.getvalue()


def encode(records: Iterable[dict[str, Any]], media_type: str) -> bytes:
    if media_type == GEOJSON:
        return geojson(records)
    if media_type == CSV:
        return csv_bytes(records)
    if media_type == PARQUET:
        return parquet_bytes(records)
    return b"".join(ndjson(records))
