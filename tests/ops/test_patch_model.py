"""A patch model (input tile size and overlap, like Earth Engine's fromVertexAi) applied per
tile equals the same model's function computed on the whole image at once."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from scipy import ndimage

from processes.models.runtime import OnnxModel
from processes.ops import _predict
from processes.ops._models import ModelClass

from ._util import make_raster

TILE, OVERLAP = 32, 4


def box_scores_model(path: Path, bands: int, classes: int, weights: np.ndarray) -> Path:
    """scores = conv3x3(mean) then a 1x1 mix: each class's score needs a 1-pixel context."""
    mean = np.full((bands, 1, 3, 3), 1 / 9, np.float32)
    mix = weights.reshape(classes, bands, 1, 1).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "mean"], ["m"], group=bands, pads=[1, 1, 1, 1]),
         helper.make_node("Conv", ["m", "mix"], ["scores"])],
        "box", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, bands, TILE, TILE])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, classes, TILE, TILE])],
        [helper.make_tensor("mean", TensorProto.FLOAT, mean.shape, mean.ravel()),
         helper.make_tensor("mix", TensorProto.FLOAT, mix.shape, mix.ravel())])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_patches_equal_whole_image(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.normal(0, 1, (3, 2))
    model = OnnxModel("box", box_scores_model(tmp_path / "box.onnx", 2, 3, w), "classifier", ("b1", "b2"),
                      tuple(ModelClass(v, f"c{v}", "#000000") for v in (10, 20, 30)), TILE, OVERLAP)
    img = rng.uniform(0, 1, (2, 90, 70)).astype(np.float32)
    out, valid = _predict.apply(make_raster(img, ("b1", "b2")), model, False)
    mean = np.stack([ndimage.uniform_filter(b, 3, mode="constant") for b in img])
    expected = np.array([10, 20, 30])[np.einsum("kb,brc->krc", w, mean).argmax(0)]
    core = (slice(OVERLAP, -OVERLAP),) * 2
    assert valid[core].all() and not valid[0].any()
    assert (out[0][core] == expected[core]).mean() > 0.999  # float32 sums in another order may flip a tie
