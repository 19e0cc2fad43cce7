"""Operator-provided ONNX models: declared in the catalog's `models:` section (loaded at start) or
registered through POST /models from the operator's model folder; either way validated (the file
must open in onnxruntime), described by an MLM STAC item and copied into the model store.

Input tile size and overlap are declared like Earth Engine's `ee.Model.fromVertexAi`
(inputTileSize, inputOverlapSize): a model without a tile size is applied per pixel.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import onnxruntime
from pydantic import BaseModel, ConfigDict, Field, model_validator

from processes.models.mlm import build_item, colour, properties
from processes.models.runtime import ModelError
from processes.models.store import ID, ModelStore
from processes.ops._models import ModelClass

from .settings import Settings


class ClassConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: int
    name: str = Field(..., min_length=1)
    color: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$")


class ModelConfig(BaseModel):
    """An ONNX model file and what it reads and gives."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(..., pattern=ID.pattern)
    file: str = Field(..., min_length=1, description="The .onnx file (catalog: a path; POST /models: a file name "
                      "in the operator's model folder)")
    title: str | None = None
    kind: Literal["classifier", "clusterer"] = "classifier"
    bands: list[str] = Field(..., min_length=1, description="Input band names, in the model's order")
    classes: list[ClassConfig] = Field(..., min_length=1)
    tile_size: int | None = Field(None, ge=8, le=4096, description="inputTileSize: the patch side; none: per pixel")
    overlap: int = Field(0, ge=0, le=1024, description="inputOverlapSize: context pixels on each patch side")
    output: str | None = Field(None, description="Output tensor of class codes or class scores (default the first)")
    scores: str | None = Field(None, description="Output tensor of class probabilities, if any")
    architecture: str = "onnx"

    @model_validator(mode="after")
    def _tiles(self) -> "ModelConfig":
        if self.tile_size is not None and 2 * self.overlap >= self.tile_size:
            raise ValueError("overlap must be less than half the tile size")
        return self


def register(store: ModelStore, cfg: ModelConfig, path: Path) -> None:
    """Validate the file and copy it, with its MLM item, into the store (ModelError if not ONNX)."""
    if not path.is_file():
        raise ModelError(f"model '{cfg.id}': no file {path.name}")
    classes = [ModelClass(c.value, c.name, c.color or colour(i)) for i, c in enumerate(cfg.classes)]
    props = properties(cfg.title or cfg.id, cfg.architecture, cfg.kind, cfg.bands, classes, "onnxruntime",
                       onnxruntime.__version__, path.stat().st_size, cfg.tile_size)
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    item = build_item(cfg.id, props, cfg.kind, None, created, {"title": cfg.title or cfg.id, "geodeferred:source": "operator"},
                      overlap=cfg.overlap, outputs={"label": cfg.output, "scores": cfg.scores})
    try:
        store.register_file(cfg.id, path, item)
    except ModelError as e:
        raise ModelError(f"model '{cfg.id}' ({path.name}): {e}") from None


def operator_file(settings: Settings, name: str) -> Path:
    """A file name in the operator's model folder (never a client path)."""
    folder = settings.model_files_dir
    if folder is None:
        raise ModelError("this service has no model folder to register files from (model_files_dir)")
    if "/" in name or "\\" in name or name.startswith("."):
        raise ModelError("file must be a plain file name in the operator's model folder")
    return Path(folder) / name


def load_configured(settings: Settings, doc: dict[str, Any], store: ModelStore) -> None:
    """The catalog's `models:` entries, checked at start: a file that is not ONNX stops the service."""
    for mid, raw in (doc.get("models") or {}).items():
        cfg = ModelConfig(id=mid, **raw)
        p = Path(cfg.file)
        register(store, cfg, p if p.is_absolute() else settings.data_dir / p)
