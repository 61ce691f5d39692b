"""API translation for Keras's own recurrent-layer tests, ported to run on rnnkit.

The ported files (``tests/keras_tests/test_*.py``, from Keras 3.15.1's
``keras/src/layers/rnn/*_test.py`` and ``keras/src/layers/core/masking_test.py``) change only
their imports: ``from keras.src import layers`` becomes ``from tests.keras_tests.shim import
layers`` and so on. This module supplies what those names mean on rnnkit:

- ``layers``, ``initializers``, ``models``, ``load_model``: rnnkit's own modules / functions;
- ``ops``: the handful of Keras ops the tests use, as torch functions;
- ``backend``: ``backend() == "torch"``, ``random.SeedGenerator`` (rnnkit's), ``config``;
- ``testing.TestCase``: a unittest / absl ``parameterized`` base with Keras's assertion helpers
  and ``run_layer_test`` / ``run_class_serialization_test`` re-implemented on rnnkit, checking
  the same things Keras's versions check (nothing is left out or loosened; Keras-on-torch's
  ``layer.torch_params`` count is checked as rnnkit's ``layer.variables`` count, the same set:
  weights plus seed-generator states).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import types

import numpy as np
import torch
from absl.testing import parameterized

import rnnkit
from rnnkit import initializers, layers, models
from rnnkit import random as _random
from rnnkit.layers.cells.base import DropoutRNNCell
from rnnkit.models import load_model
from rnnkit.saving import custom_object_scope

__all__ = [
    "DropoutRNNCell",
    "Functional",
    "Sequential",
    "backend",
    "initializers",
    "layers",
    "load_model",
    "models",
    "ops",
    "sequential_infers_without_call",
    "testing",
]

Sequential = rnnkit.Sequential
Functional = rnnkit.Model


# ---------------------------------------------------------------------- numpy / torch


def convert_to_numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        return np.asarray(x.numpy())
    return np.asarray(x)


def _t(x):
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "int8": torch.int8,
    "uint8": torch.uint8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "bool": torch.bool,
}


def _torch_dtype(dtype):
    if isinstance(dtype, torch.dtype):
        return dtype
    return _DTYPES[str(dtype)]


def standardize_dtype(dtype) -> str:
    if isinstance(dtype, torch.dtype):
        return str(dtype).replace("torch.", "")
    if isinstance(dtype, np.dtype) or (isinstance(dtype, type) and issubclass(dtype, np.generic)):
        return np.dtype(dtype).name
    if dtype is float:
        return "float32"
    if dtype is int:
        return "int32"
    return str(dtype)


def _transpose(x, axes=None):
    x = _t(x)
    axes = list(reversed(range(x.dim()))) if axes is None else list(axes)
    return x.permute(*axes)


def _uniform(shape, minval=0.0, maxval=1.0, dtype="float32", seed=None):
    return torch.rand(tuple(shape), dtype=_torch_dtype(dtype)) * (maxval - minval) + minval


ops = types.SimpleNamespace(
    matmul=lambda a, b: torch.matmul(_t(a), _t(b)),
    transpose=_transpose,
    cast=lambda x, dtype: _t(x).to(_torch_dtype(dtype)),
    sum=lambda x, axis=None: _t(x).sum() if axis is None else _t(x).sum(dim=axis),
    shape=lambda x: tuple(x.shape),
    convert_to_numpy=convert_to_numpy,
    random=types.SimpleNamespace(uniform=_uniform),
)

backend = types.SimpleNamespace(
    backend=lambda: "torch",
    random=types.SimpleNamespace(SeedGenerator=_random.SeedGenerator),
    config=types.SimpleNamespace(image_data_format=lambda: "channels_last"),
    standardize_dtype=standardize_dtype,
    convert_to_numpy=convert_to_numpy,
    is_tensor=lambda x: isinstance(x, torch.Tensor),
)


# ---------------------------------------------------------------------- JSON helpers (as Keras's)


def _tuples_to_lists(obj):
    if isinstance(obj, dict):
        return {k: _tuples_to_lists(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return {"__tuple__": True, "items": [_tuples_to_lists(v) for v in obj]} if isinstance(obj, tuple) else [
            _tuples_to_lists(v) for v in obj
        ]
    return obj


def to_json_with_tuples(value):
    return json.dumps(_tuples_to_lists(value), sort_keys=True, indent=2)


def _lists_to_tuples(obj):
    if isinstance(obj, dict):
        if obj.get("__tuple__") is True and set(obj) == {"__tuple__", "items"}:
            return tuple(_lists_to_tuples(v) for v in obj["items"])
        return {k: _lists_to_tuples(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_lists_to_tuples(v) for v in obj]
    return obj


def from_json_with_tuples(value):
    return _lists_to_tuples(json.loads(value))


# ---------------------------------------------------------------------- structures


def _is_shape(x) -> bool:
    return isinstance(x, tuple | list) and all(d is None or isinstance(d, int) for d in x)


def _map_shapes(fn, shapes, dtypes):
    if isinstance(shapes, dict):
        return {k: _map_shapes(fn, v, dtypes[k]) for k, v in shapes.items()}
    if _is_shape(shapes):
        return fn(tuple(shapes), dtypes)
    return type(shapes)(_map_shapes(fn, s, d) for s, d in zip(shapes, dtypes))


def _default_dtypes(shapes):
    if isinstance(shapes, dict):
        return {k: _default_dtypes(v) for k, v in shapes.items()}
    if _is_shape(shapes):
        return "float32"
    return type(shapes)(_default_dtypes(s) for s in shapes)


def _flatten(x):
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in _flatten(x[k])]
    if isinstance(x, list | tuple) and not _is_shape(x):
        return [leaf for v in x for leaf in _flatten(v)]
    return [x]


def _flatten_values(x):
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in _flatten_values(x[k])]
    if isinstance(x, list | tuple):
        return [leaf for v in x for leaf in _flatten_values(v)]
    return [x]


def _create_eager(shape, dtype):
    return (torch.rand(tuple(shape), dtype=torch.float32) * 3).to(_torch_dtype(dtype))


def _create_symbolic(shape, dtype):
    return rnnkit.Input(batch_shape=tuple(shape), dtype=dtype)


def get_seed_generators(layer):
    """The distinct SeedGenerators of ``layer`` and its sublayers (Keras's helper)."""
    seen, out = set(), []
    for m in layer.modules():
        if isinstance(m, _random.SeedGenerator) and id(m) not in seen:
            seen.add(id(m))
            out.append(m)
    return out


# ---------------------------------------------------------------------- TestCase


class TestCase(parameterized.TestCase):
    """Keras's ``testing.TestCase`` assertion helpers and layer checks, on rnnkit."""

    maxDiff = None

    def get_temp_dir(self):
        d = tempfile.mkdtemp()
        self.addCleanup(lambda: shutil.rmtree(d, ignore_errors=True))
        return d

    def convert_to_numpy(self, x):
        return convert_to_numpy(x)

    def assertAllClose(self, actual, desired, atol=1e-6, rtol=1e-6, tpu_atol=None, tpu_rtol=None, msg=None):
        np.testing.assert_allclose(
            convert_to_numpy(actual), convert_to_numpy(desired), atol=atol, rtol=rtol, err_msg=msg or ""
        )

    def assertNotAllClose(self, x1, x2, atol=1e-6, rtol=1e-6, msg=None):
        try:
            self.assertAllClose(x1, x2, atol=atol, rtol=rtol)
        except AssertionError:
            return
        raise AssertionError(f"The two values are close at all elements. \n{msg or ''}.\nValues: {x1}")

    def assertAlmostEqual(self, actual, desired, decimal=3, tpu_decimal=None, msg=None):
        np.testing.assert_almost_equal(
            convert_to_numpy(actual), convert_to_numpy(desired), decimal=decimal, err_msg=msg or ""
        )

    def assertAllEqual(self, actual, desired, msg=None):
        np.testing.assert_array_equal(convert_to_numpy(actual), convert_to_numpy(desired), err_msg=msg or "")

    def assertLen(self, iterable, expected_len, msg=None):
        self.assertEqual(len(iterable), expected_len, msg=msg)

    def assertDType(self, x, dtype, msg=None):
        x_dtype = standardize_dtype(x.dtype if hasattr(x, "dtype") else type(x))
        self.assertEqual(x_dtype, standardize_dtype(dtype), msg=msg)

    # ------------------------------------------------------------------ serialization
    def run_class_serialization_test(self, instance, custom_objects=None):
        cls = instance.__class__
        config = instance.get_config()
        config_json = to_json_with_tuples(config)
        ref_dir = dir(instance)[:]
        with custom_object_scope(custom_objects or {}):
            revived = cls.from_config(config)
        self.assertEqual(config_json, to_json_with_tuples(revived.get_config()))
        self.assertEqual(set(ref_dir), set(dir(revived)))

        serialized = layers.serialize(instance)
        serialized_json = to_json_with_tuples(serialized)
        with custom_object_scope(custom_objects or {}):
            revived = layers.deserialize(from_json_with_tuples(serialized_json))
        self.assertEqual(config_json, to_json_with_tuples(revived.get_config()))
        new_dir = dir(revived)[:]
        for lst in (ref_dir, new_dir):
            if "__annotations__" in lst:
                lst.remove("__annotations__")
        self.assertEqual(set(ref_dir), set(new_dir))
        return revived

    # ------------------------------------------------------------------ layer test
    def run_layer_test(
        self,
        layer_cls,
        init_kwargs,
        input_shape=None,
        input_dtype=None,
        input_sparse=False,
        input_ragged=False,
        input_data=None,
        call_kwargs=None,
        expected_output_shape=None,
        expected_output_dtype=None,
        expected_output_sparse=False,
        expected_output_ragged=False,
        expected_output=None,
        expected_num_trainable_weights=None,
        expected_num_non_trainable_weights=None,
        expected_num_non_trainable_variables=None,
        expected_num_seed_generators=None,
        expected_num_losses=None,
        supports_masking=None,
        expected_mask_shape=None,
        custom_objects=None,
        run_training_check=True,
        run_mixed_precision_check=True,
        assert_built_after_instantiation=False,
        tpu_atol=None,
        tpu_rtol=None,
    ):
        if input_shape is not None and input_data is not None:
            raise ValueError("input_shape and input_data cannot be passed at the same time.")
        if expected_output_shape is not None and expected_output is not None:
            raise ValueError("expected_output_shape and expected_output cannot be passed at the same time.")
        if expected_output is not None and input_data is None:
            raise ValueError("In order to use expected_output, input_data must be provided.")
        if expected_mask_shape is not None and supports_masking is not True:
            raise ValueError("In order to use expected_mask_shape, supports_masking must be True.")
        if input_sparse or input_ragged or expected_output_sparse or expected_output_ragged:
            raise ValueError("rnnkit has no sparse or ragged tensors")
        init_kwargs = init_kwargs or {}
        call_kwargs = call_kwargs or {}
        if input_shape is not None and input_dtype is None:
            input_dtype = _default_dtypes(input_shape)

        def call(layer, data):
            return layer(**data, **call_kwargs) if isinstance(data, dict) else layer(data, **call_kwargs)

        if input_data is not None or input_shape is not None:
            if input_data is None:
                input_data = _map_shapes(_create_eager, input_shape, input_dtype)
            layer = layer_cls(**init_kwargs)
            call(layer, input_data)
            if expected_num_trainable_weights is None:
                expected_num_trainable_weights = len(layer.trainable_weights)
            if expected_num_non_trainable_weights is None:
                expected_num_non_trainable_weights = len(layer.non_trainable_weights)
            if expected_num_non_trainable_variables is None:
                expected_num_non_trainable_variables = len(layer.non_trainable_variables)
            if expected_num_seed_generators is None:
                expected_num_seed_generators = len(get_seed_generators(layer))

        layer = layer_cls(**init_kwargs)
        self.run_class_serialization_test(layer, custom_objects)

        if supports_masking is not None:
            self.assertEqual(layer.supports_masking, supports_masking, msg="Unexpected supports_masking value")

        def run_build_asserts(layer):
            self.assertTrue(layer.built)
            if expected_num_trainable_weights is not None:
                self.assertLen(layer.trainable_weights, expected_num_trainable_weights,
                               msg="Unexpected number of trainable_weights")
            if expected_num_non_trainable_weights is not None:
                self.assertLen(layer.non_trainable_weights, expected_num_non_trainable_weights,
                               msg="Unexpected number of non_trainable_weights")
            if expected_num_non_trainable_variables is not None:
                self.assertLen(layer.non_trainable_variables, expected_num_non_trainable_variables,
                               msg="Unexpected number of non_trainable_variables")
            if expected_num_seed_generators is not None:
                self.assertLen(get_seed_generators(layer), expected_num_seed_generators,
                               msg="Unexpected number of seed_generators")
            if (
                expected_num_trainable_weights is not None
                and expected_num_non_trainable_weights is not None
                and expected_num_seed_generators is not None
            ):
                # Keras-on-torch: ``layer.torch_params`` (all variables); rnnkit: ``layer.variables``.
                self.assertLen(
                    layer.variables,
                    expected_num_trainable_weights + expected_num_non_trainable_weights
                    + expected_num_seed_generators,
                    msg="Unexpected number of variables",
                )

        def run_output_asserts(layer, output, eager=False):
            if expected_output_shape is not None:
                exp = expected_output_shape
                outs = output
                if _is_shape(exp):
                    exp, outs = [exp], [output]
                exp_leaves, out_leaves = _flatten(exp), _flatten_values(outs)
                ok = len(exp_leaves) == len(out_leaves) and all(
                    len(o.shape) == len(e) and all(ed is None or ed == d for ed, d in zip(e, o.shape))
                    for e, o in zip(exp_leaves, out_leaves)
                )
                self.assertTrue(
                    ok,
                    msg=f"Expected output shapes {expected_output_shape} but received "
                    f"{[tuple(o.shape) for o in out_leaves]}",
                )
            if expected_output_dtype is not None:
                dts = expected_output_dtype if isinstance(expected_output_dtype, list | tuple | dict) else None
                leaves = _flatten_values(output)
                want = _flatten_values(dts) if dts is not None else [expected_output_dtype] * len(leaves)
                self.assertTrue(
                    all(w == standardize_dtype(o.dtype) for w, o in zip(want, leaves)),
                    msg=f"Expected output dtypes {expected_output_dtype} but received "
                    f"{[o.dtype for o in leaves]}",
                )
            if eager:
                if expected_output is not None:
                    self.assertEqual(type(expected_output), type(output))
                    for ref_v, v in zip(_flatten_values(expected_output), _flatten_values(output)):
                        self.assertAllClose(ref_v, v, msg="Unexpected output value")
                if expected_num_losses is not None:
                    self.assertLen(layer.losses, expected_num_losses)

        def run_training_step(layer, input_data, output_data):
            class TestModel(rnnkit.Model):
                def __init__(self, layer):
                    super().__init__()
                    self.layer = layer

                def call(self, x, training=False):
                    return self.layer(x, training=training)

            model = TestModel(layer)
            to_np = lambda s: [to_np(v) for v in s] if isinstance(s, list | tuple) else convert_to_numpy(s)  # noqa: E731
            data = (to_np(input_data), to_np(output_data))

            def data_generator():
                while True:
                    yield data

            class TestLoss(rnnkit.losses.Loss):
                def __call__(self, y_true, y_pred, sample_weight=None):
                    return torch.sum(y_pred)

            model.compile(optimizer="sgd", loss=TestLoss())
            model.fit(data_generator(), steps_per_epoch=1, verbose=0)

        if input_data is not None or input_shape is not None:
            build_shape = input_shape if input_shape is not None else (
                {k: tuple(v.shape) for k, v in input_data.items()} if isinstance(input_data, dict)
                else _shape_structure(input_data)
            )
            layer = layer_cls(**init_kwargs)
            if isinstance(build_shape, dict):
                layer.build(**build_shape)
            else:
                layer.build(build_shape)
            run_build_asserts(layer)

            if input_shape is None:
                symbolic = _map_over(lambda x: _create_symbolic(tuple(x.shape), standardize_dtype(x.dtype)), input_data)
            else:
                symbolic = _map_shapes(_create_symbolic, input_shape, input_dtype)
            layer = layer_cls(**init_kwargs)
            sym_out = call(layer, symbolic)
            run_build_asserts(layer)
            run_output_asserts(layer, sym_out, eager=False)

            if expected_mask_shape is not None:
                output_mask = layer.compute_mask(symbolic)
                self.assertEqual(expected_mask_shape, tuple(output_mask.shape))

            if assert_built_after_instantiation:
                layer = layer_cls(**init_kwargs)
                self.assertTrue(layer.built, msg=f"{type(layer)} is stateless, so it should be built after instantiation.")

                class ModifiedBuildLayer(layer_cls):
                    def build(self, *args, **kwargs):
                        pass

                layer = ModifiedBuildLayer(**init_kwargs)
                self.assertFalse(layer.built, msg=f"The `build` of {type(layer)} is overriden, so it should not be built after instantiation.")

        if input_data is not None or input_shape is not None:
            if input_data is None:
                input_data = _map_shapes(_create_eager, input_shape, input_dtype)
            layer = layer_cls(**init_kwargs)
            output_data = call(layer, input_data)
            run_output_asserts(layer, output_data, eager=True)
            if run_training_check:
                run_training_step(layer, input_data, output_data)
            if run_mixed_precision_check:
                run_mixed_precision_check = torch.cuda.is_available()  # as Keras on torch
            if run_mixed_precision_check:
                layer = layer_cls(**{**init_kwargs, "dtype": "mixed_float16"})
                output_data = call(layer, input_data)
                output_spec = layer.compute_output_spec(symbolic)
                for tensor, spec in zip(_flatten_values(output_data), _flatten_values(output_spec)):
                    dtype = standardize_dtype(tensor.dtype)
                    self.assertEqual(dtype, standardize_dtype(spec.dtype), f"expected output dtype {spec.dtype}, got {dtype}")
                for weight in layer.weights:
                    dtype = standardize_dtype(weight.dtype)
                    if weight.is_floating_point():
                        self.assertEqual(dtype, "float32")


def _map_over(fn, x):
    if isinstance(x, dict):
        return {k: _map_over(fn, v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return type(x)(_map_over(fn, v) for v in x)
    return fn(x)


def _shape_structure(x):
    return _map_over(lambda t: tuple(t.shape), x)


def sequential_infers_without_call() -> bool:
    """Whether Sequential shape inference uses compute_output_shape instead of running call()."""
    calls = []

    class Probe(layers.Layer):
        def compute_output_shape(self, input_shape):
            return input_shape

        def call(self, inputs):
            calls.append(1)
            return inputs

    try:
        rnnkit.Sequential([rnnkit.Input(shape=(3,)), Probe()])
    except Exception:
        return False
    return not calls


def _uses_tpu():
    return False


testing = types.SimpleNamespace(
    TestCase=TestCase,
    tensorflow_uses_gpu=lambda: False,
    uses_tpu=_uses_tpu,
    uses_gpu=lambda: torch.cuda.is_available(),
    torch_uses_gpu=lambda: torch.cuda.is_available(),
)
