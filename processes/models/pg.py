"""The model store in PostgreSQL: replicas and job workers on any machine share no disk.

A model is a row (its MLM item, accuracy report, digest and size) and its ONNX bytes in 1 MiB
bytea chunks, written in one transaction (readers see the whole model or none). onnxruntime reads
a file by path, so each process (web worker, pool worker, a dask worker elsewhere) materialises a
read-through copy under its own `root`::

    root/{id}/{sha256}/model.onnx

named by the digest the database holds (a replaced model is a new folder, the old one is removed),
and checked against that digest when downloaded.
"""
from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Json

from .. import database
from ..database import LOCK_CLASS
from .runtime import ModelError
from .store import Models, check_id, unknown

MODEL_LOCKS = LOCK_CLASS + 1  # advisory lock namespace of model writes (key: hashtext of the id)
MIGRATIONS = (
    """
    CREATE TABLE geodeferred_models (
        model_id text PRIMARY KEY,
        item json NOT NULL,
        report json,
        digest text NOT NULL,
        size bigint NOT NULL,
        stored timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE geodeferred_model_chunks (
        model_id text NOT NULL REFERENCES geodeferred_models ON DELETE CASCADE,
        digest text NOT NULL,
        seq integer NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (model_id, digest, seq)
    );
    ALTER TABLE geodeferred_model_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
    """,
)


def migrate(conn: psycopg.Connection) -> int:
    return database.migrate(conn, "models", MIGRATIONS)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for _, chunk in database.chunks(f):
            h.update(chunk)
    return h.hexdigest()


class PgModelStore(Models):
    def __init__(self, dsn: str, root: Path | str) -> None:
        super().__init__()
        self.dsn, self.root, self.shared_root = dsn, Path(root), None
        self.root.mkdir(parents=True, exist_ok=True)

    def migrate(self) -> int:
        with database.connection(self.dsn) as c:
            return migrate(c)

    def _row(self, model_id: str, columns: str) -> tuple:
        with database.connection(self.dsn) as c:
            row = c.execute(f"SELECT {columns} FROM geodeferred_models WHERE model_id = %s",  # columns: this module's
                            (check_id(model_id),)).fetchone()
        if row is None:
            raise unknown(model_id)
        return row

    def item(self, model_id: str) -> dict[str, Any]:
        return self._row(model_id, "item")[0]

    def report(self, model_id: str) -> dict[str, Any] | None:
        return self._row(model_id, "report")[0]

    def ids(self) -> list[str]:
        with database.connection(self.dsn) as c:
            return [r[0] for r in c.execute("SELECT model_id FROM geodeferred_models ORDER BY model_id")]

    def model_file(self, model_id: str) -> Path:
        """This process's copy of the model's current bytes, downloaded unless it is here already."""
        for _ in range(3):  # a replacement between reading the digest and downloading: read it again
            (digest,) = self._row(model_id, "digest")
            path = self.root / model_id / digest / "model.onnx"
            if path.is_file():
                return path
            with database.connection(self.dsn) as c:
                database.download(c, "SELECT data FROM geodeferred_model_chunks WHERE model_id = %s AND digest = %s "
                                  "ORDER BY seq", (model_id, digest), path)
            if _sha256(path) == digest:
                for old in (self.root / model_id).iterdir():
                    if old.name != digest:
                        shutil.rmtree(old, ignore_errors=True)
                return path
            shutil.rmtree(path.parent, ignore_errors=True)
        raise ModelError(f"model '{model_id}' changed while it was being read; try again")

    def put(self, model_id: str, onnx: bytes, item: dict[str, Any], report: dict[str, Any] | None = None,
            replace: bool = False) -> None:
        digest = hashlib.sha256(onnx).hexdigest()
        with database.connection(self.dsn) as c, c.transaction():
            c.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (MODEL_LOCKS, check_id(model_id)))
            row = c.execute("SELECT digest FROM geodeferred_models WHERE model_id = %s", (model_id,)).fetchone()
            if row is not None and not replace:
                raise ModelError(f"a model '{model_id}' exists already")
            c.execute("INSERT INTO geodeferred_models (model_id, item, report, digest, size) VALUES (%s, %s, %s, %s, %s) "
                      "ON CONFLICT (model_id) DO UPDATE SET item = EXCLUDED.item, report = EXCLUDED.report, "
                      "digest = EXCLUDED.digest, size = EXCLUDED.size, stored = now()",
                      (model_id, Json(item), None if report is None else Json(report), digest, len(onnx)))
            c.execute("DELETE FROM geodeferred_model_chunks WHERE model_id = %s", (model_id,))
            with c.cursor().copy("COPY geodeferred_model_chunks (model_id, digest, seq, data) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "int4", "bytea"])
                for seq, chunk in database.chunks(io.BytesIO(onnx)):
                    copy.write_row((model_id, digest, seq, chunk))
        self._forget(model_id)
