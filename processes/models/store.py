"""What both model stores share (the per-process cache of loaded models, listing, registering an
operator's file), and the file store: one folder per model on a filesystem every web worker and
job worker shares.

    root/{id}/model.onnx   the model (ONNX only)
    root/{id}/item.json    its STAC item with the MLM extension
    root/{id}/report.json  the accuracy report of a trained model

A model is written into a hidden temporary folder and renamed into place in one step, so readers
see a whole model or none, also after a crash; models are immutable once stored (a new training
gives a new id), so each process caches what it loaded. Operator-configured ONNX files are copied
in at start (`register_file`), after checking that onnxruntime can open them.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

from ..ops._models import UnknownModel
from .mlm import dumps, model_of_item
from .runtime import ModelError, OnnxModel, open_session

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def check_id(model_id: object) -> str:
    if not isinstance(model_id, str) or not ID.match(model_id):
        raise UnknownModel(f"unknown model '{model_id}'")
    return model_id


def unknown(model_id: str) -> UnknownModel:
    return UnknownModel(f"unknown model '{model_id}' (see /models)")


def checksum(data: bytes) -> str:
    """The STAC `file:checksum` of model bytes (a sha2-256 multihash)."""
    return "1220" + hashlib.sha256(data).hexdigest()


class Models:
    """Models by id: `item`, `report`, `ids`, `put` and `model_file` (a local path of the ONNX file)
    come from each store; `get` (cached per process), `items` and `register_file` are shared.
    `shared_root` is the folder job workers store trained models in, or None when they use the
    store their environment names (`processes.models.from_environment`)."""

    root: Path
    shared_root: Path | None

    def __init__(self) -> None:
        self._models: dict[str, OnnxModel] = {}
        self._lock = threading.Lock()

    def get(self, model_id: str) -> OnnxModel:
        with self._lock:
            model = self._models.get(model_id)
        if model is None:
            model = model_of_item(self.item(model_id), self.model_file(model_id))
            with self._lock:
                model = self._models.setdefault(model_id, model)
        return model

    def items(self) -> list[dict[str, Any]]:
        out = []
        for mid in self.ids():
            try:
                out.append(self.item(mid))
            except UnknownModel:  # removed meanwhile
                continue
        return out

    def register_file(self, model_id: str, path: Path, item: dict[str, Any]) -> bool:
        """Copy an operator's ONNX file in (again only when its content changed); False if unchanged."""
        data = Path(path).read_bytes()
        open_session(data)  # ModelError: not ONNX
        digest = checksum(data)
        item = {**item, "properties": {**item["properties"], "file:checksum": digest}}
        try:
            if self.item(model_id)["properties"].get("file:checksum") == digest:
                return False
        except UnknownModel:
            pass
        self.put(model_id, data, item, replace=True)
        return True

    def _forget(self, model_id: str) -> None:
        with self._lock:
            self._models.pop(model_id, None)

    # -- what each store provides ---------------------------------------------------
    def item(self, model_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def report(self, model_id: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def model_file(self, model_id: str) -> Path:
        raise NotImplementedError

    def ids(self) -> list[str]:
        raise NotImplementedError

    def put(self, model_id: str, onnx: bytes, item: dict[str, Any], report: dict[str, Any] | None = None,
            replace: bool = False) -> None:
        """Store a model atomically (ModelError if the id exists, unless `replace`)."""
        raise NotImplementedError


class ModelStore(Models):
    def __init__(self, root: Path | str) -> None:
        super().__init__()
        self.root = self.shared_root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _dir(self, model_id: str) -> Path:
        return self.root / check_id(model_id)

    def item(self, model_id: str) -> dict[str, Any]:
        try:
            return json.loads((self._dir(model_id) / "item.json").read_text())
        except FileNotFoundError:
            raise unknown(model_id) from None

    def report(self, model_id: str) -> dict[str, Any] | None:
        path = self._dir(model_id) / "report.json"
        if not path.exists():
            self.item(model_id)  # UnknownModel if the model is unknown
            return None
        return json.loads(path.read_text())

    def model_file(self, model_id: str) -> Path:
        self.item(model_id)
        return self._dir(model_id) / "model.onnx"

    def ids(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and ID.match(p.name)
                      and (p / "item.json").exists())

    def put(self, model_id: str, onnx: bytes, item: dict[str, Any], report: dict[str, Any] | None = None,
            replace: bool = False) -> None:
        """item.json last inside the temporary folder, then one rename."""
        target = self._dir(model_id)
        tmp = Path(tempfile.mkdtemp(prefix=".new-", dir=self.root))
        try:
            _fsync_write(tmp / "model.onnx", onnx)
            if report is not None:
                _fsync_write(tmp / "report.json", json.dumps(report, indent=1).encode())
            _fsync_write(tmp / "item.json", dumps(item))
            if target.exists():
                if not replace:
                    raise ModelError(f"a model '{model_id}' exists already")
                trash = self.root / f".old-{uuid.uuid4().hex}"
                os.rename(target, trash)
                shutil.rmtree(trash, ignore_errors=True)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._forget(model_id)
