"""STAC items with the Machine Learning Model (MLM) extension, built and validated by `stac-model`.

Every stored model, trained here or registered by the operator, is described the same way:
`mlm:name`, `mlm:architecture`, `mlm:tasks` (a per-pixel classifier is `semantic-segmentation`),
`mlm:input` (band names, shape, dim_order, data_type, value_scaling), `mlm:output` (the classes
with their colours: the legend of every class map), and the model asset (role `mlm:model`,
`mlm:artifact_type`). What MLM has no field for (the patch overlap, the output tensor names,
classifier vs clusterer) lives under the `geodeferred:` prefix. `model_of_item` reads one back.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import pystac
from stac_model.input import InputStructure, ModelInput
from stac_model.output import MLMClassification, ModelOutput, ModelResult
from stac_model.schema import ItemMLModelExtension, MLModelExtension, MLModelProperties

from ..ops._models import ModelClass
from .runtime import ModelError, OnnxModel

MEDIA_TYPE = "application/octet-stream; framework=onnx; profile=onnx"
PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
           "#1f78b4", "#b2df8a", "#fb9a99", "#fdbf6f", "#cab2d6", "#ffff99", "#8dd3c7", "#bebada")


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def properties(name: str, architecture: str, kind: str, bands: Sequence[str], classes: Sequence[ModelClass],
               framework: str, framework_version: str, file_size: int, tile_size: int | None,
               value_scaling: list[dict] | None = None, total_parameters: int | None = None) -> MLModelProperties:
    """The MLM properties, validated by stac-model's pydantic models (a ValidationError if not)."""
    n = len(bands)
    shape, dims = ([-1, n, tile_size, tile_size], ["batch", "bands", "height", "width"]) if tile_size \
        else ([-1, n], ["batch", "bands"])
    out_shape, out_dims = ([-1, tile_size, tile_size], ["batch", "height", "width"]) if tile_size else ([-1], ["batch"])
    model_input = ModelInput(name="features", bands=list(bands), value_scaling=value_scaling,
                             input=InputStructure(shape=shape, dim_order=dims, data_type="float32"))
    model_output = ModelOutput(
        name="clusters" if kind == "clusterer" else "classes", tasks={"semantic-segmentation"},
        result=ModelResult(shape=out_shape, dim_order=out_dims, data_type="float32"),
        classes=[MLMClassification(value=c.value, name=c.name, color_hint=c.color.lstrip("#")) for c in classes])
    return MLModelProperties(name=name, architecture=architecture, tasks={"semantic-segmentation"},
                             framework=framework, framework_version=framework_version, file_size=file_size,
                             accelerator="amd64", accelerator_constrained=False, pretrained=False,
                             total_parameters=total_parameters, input=[model_input], output=[model_output])


def build_item(model_id: str, props: MLModelProperties, kind: str, bbox: Sequence[float] | None, created: str,
               extra: dict[str, Any], overlap: int = 0, outputs: dict[str, str | None] | None = None) -> dict[str, Any]:
    bbox = list(bbox) if bbox else [-180.0, -90.0, 180.0, 90.0]
    w, s, e, n = bbox
    geometry = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    item = pystac.Item(id=model_id, geometry=geometry, bbox=bbox, datetime=None, collection="models",
                       properties={"start_datetime": created, "end_datetime": created, "created": created,
                                   "geodeferred:kind": kind, "geodeferred:overlap": overlap,
                                   "geodeferred:outputs": outputs or {}, **extra})
    item.add_asset("model", pystac.Asset(href="./model.onnx", media_type=MEDIA_TYPE, title="ONNX model",
                                         roles=["mlm:model", "data"], extra_fields={"mlm:artifact_type": "onnx"}))
    ext: ItemMLModelExtension = MLModelExtension.ext(item, add_if_missing=True)
    ext.apply(props)
    return item.to_dict(include_self_link=False, transform_hrefs=False)


def validate_item(doc: dict[str, Any]) -> MLModelProperties:
    """Read the MLM fields of an item back through stac-model (raises when they are not valid)."""
    mlm = {k[4:]: v for k, v in doc["properties"].items() if k.startswith("mlm:")}
    if "file:size" in doc["properties"]:
        mlm["file:size"] = doc["properties"]["file:size"]
    return MLModelProperties.model_validate(mlm)


def model_of_item(doc: dict[str, Any], path: Path) -> OnnxModel:
    p = doc["properties"]
    try:
        inp, out = p["mlm:input"][0], p["mlm:output"][0]
        shape = inp["input"]["shape"]
        classes = tuple(ModelClass(int(c["value"]), str(c["name"]), "#" + str(c.get("color_hint") or "888888"))
                        for c in out.get("classification:classes") or ())
        outputs = p.get("geodeferred:outputs") or {}
        return OnnxModel(doc["id"], path, p["geodeferred:kind"], tuple(inp["bands"]), classes,
                         int(shape[2]) if len(shape) == 4 else None, int(p.get("geodeferred:overlap", 0)),
                         outputs.get("label"), outputs.get("scores"))
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise ModelError(f"model '{doc.get('id')}': incomplete description ({e})") from None


def dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=1).encode()
