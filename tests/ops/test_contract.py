"""One check of every registered operation's output invariants (openeo-processes-dask style).

Adding an operation: add an example here (input band names and parameters); the test fails until then.
"""
from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from processes.ops import REGISTRY, Raster

from ._util import make_raster

ROWS, COLS, SCENES, HOLE = 9, 11, 4, (4, 5)
# op id -> (band names of each input, example parameters)
EXAMPLES = {
    "hillshade": ({"data": ("elevation",)}, {}),
    "slope": ({"data": ("elevation",)}, {}),
    "aspect": ({"data": ("elevation",)}, {}),
    "expression": ({"data": ("B04", "B08")}, {"expression": "(B08 - B04) / (B08 + B04); b1 * 2", "name": "ndvi; x"}),
    "normalized_difference": ({"data": ("B04", "B08", "B12")}, {"a": "B08", "b": "B04"}),
    "threshold": ({"data": ("ndvi",)}, {"value": 0.5}),
    "reclassify": ({"data": ("ndvi",)}, {"breaks": [0.3, 0.6], "values": [0, 1, 2]}),
    "mask": ({"data": ("B04", "B08"), "mask": ("SCL",)}, {"values": [3, 8, 9, 10]}),
    "composite": ({"data": ("B04", "B08", "SCL")}, {}),
    "difference": ({"a": ("nbr",), "b": ("nbr",)}, {}),
    "stack": ({"a": ("nd",), "b": ("nd", "elevation")}, {}),
}


def random_raster(rng: np.random.Generator, names: tuple[str, ...], hole: bool) -> Raster:
    data = np.stack([rng.integers(0, 12, (ROWS, COLS)) if n == "SCL" else rng.uniform(0.01, 1.0, (ROWS, COLS))
                     for n in names])
    mask = np.ones((ROWS, COLS), bool)
    mask[HOLE] = not hole
    return make_raster(data, names, mask)


def make_inputs(op, bands_in, rng, hole_in: str | None) -> dict:
    inputs = {}
    for name, spec in op.inputs.items():
        if spec.kind == "series":  # a hole in every scene: no clear observation there
            inputs[name] = tuple(random_raster(rng, bands_in[name], name == hole_in) for _ in range(SCENES))
        else:
            inputs[name] = random_raster(rng, bands_in[name], name == hole_in)
    return inputs


def snapshot(inputs: dict) -> list[np.ndarray]:
    rasters = [r for v in inputs.values() for r in (v if isinstance(v, tuple) else (v,))]
    return [a.copy() for r in rasters for a in (r.data, r.mask)]


@pytest.mark.parametrize("op_id", sorted(REGISTRY))
def test_operation_contract(op_id: str) -> None:
    op = REGISTRY[op_id]
    if op_id not in EXAMPLES:
        pytest.fail(f"add an example for operation '{op_id}' to EXAMPLES in {__file__}")
    bands_in, example = EXAMPLES[op_id]
    assert set(bands_in) == set(op.inputs)

    # parameters: schema, defaults, extra="forbid", hashable (graph nodes are dict keys), halo
    schema = op.params.model_json_schema()
    assert schema["type"] == "object" and schema.get("additionalProperties") is False
    with pytest.raises(ValidationError):
        op.params(**example, not_a_parameter=1)
    params = op.params(**example)
    hash(params)
    assert params.model_dump(mode="json") == op.params(**params.model_dump(mode="json")).model_dump(mode="json")
    assert isinstance(op.halo(params), int) and op.halo(params) >= 0
    if op.check is not None:
        op.check(bands_in, params)
    names_out = op.bands_out(bands_in, params)
    assert names_out and all(isinstance(n, str) and n for n in names_out)

    # output invariants, and mask propagation from each input in turn
    for hole_in in op.inputs:
        rng = np.random.default_rng(0)
        inputs = make_inputs(op, bands_in, rng, hole_in)
        before = snapshot(inputs)
        out = op.kernel(inputs, params)
        unchanged = all(np.array_equal(a, b, equal_nan=True) for a, b in zip(before, snapshot(inputs)))
        assert unchanged, "kernel mutated an input (results are shared between consumers)"
        assert isinstance(out, Raster)
        assert out.shape == (ROWS, COLS)
        assert out.data.dtype == np.float32
        assert out.mask.dtype == bool and out.mask.shape == (ROWS, COLS)
        assert out.band_names == names_out and out.data.shape[0] == len(names_out)
        assert not out.mask[HOLE], f"invalid pixel of input '{hole_in}' is valid in the output"
        assert out.mask.any(), "no valid output pixel from valid random inputs"
        assert np.isfinite(out.data[:, out.mask]).all()
        if op.value_range is not None:
            lo, hi = op.value_range
            assert ((out.data[:, out.mask] >= lo) & (out.data[:, out.mask] <= hi)).all()
