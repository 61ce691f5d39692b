"""API translation for Keras's ConvLSTM tests (``keras/src/layers/rnn/conv_lstm*_test.py``).

A minimal stand-in until the shared ``tests/keras_tests/shim.py`` covers these tests: the ported
files change only their imports (``from keras.src import layers`` -> ``from
tests.keras_tests.conv_lstm_shim import layers``). ``testing.TestCase.run_layer_test`` checks
what Keras 3.15's checks for these layers: the config / serialization round trip (JSON equal,
same attributes), ``supports_masking``, weight counts after ``build``, output shapes of a
symbolic call and of an eager call, and one training step through ``Model.fit``. Sparse /
ragged inputs and the mixed-precision check (Keras on torch runs it on GPUs only) are not
part of these tests.
"""

from __future__ import annotations

import json
import types
import unittest

import numpy as np
import torch

import rnnkit
from rnnkit import config as _config
from rnnkit import initializers, layers
from rnnkit.layers.cells.conv_lstm import ConvLSTMCell
from rnnkit.layers.conv_lstm import ConvLSTM

__all__ = ["ConvLSTM", "ConvLSTMCell", "backend", "initializers", "layers", "testing"]


def convert_to_numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


backend = types.SimpleNamespace(
    backend=lambda: "torch",
    config=types.SimpleNamespace(image_data_format=_config.image_data_format),
    convert_to_numpy=convert_to_numpy,
)


def _json(value):
    def enc(o):
        if isinstance(o, dict):
            return {k: enc(v) for k, v in o.items()}
        if isinstance(o, tuple):
            return {"__tuple__": [enc(v) for v in o]}
        if isinstance(o, list):
            return [enc(v) for v in o]
        return o

    return json.dumps(enc(value), sort_keys=True, indent=2)


def _leaves(x):
    if isinstance(x, list | tuple):
        return [leaf for v in x for leaf in _leaves(v)]
    return [x]


def _is_shape(x):
    return isinstance(x, tuple | list) and all(d is None or isinstance(d, int) for d in x)


class TestCase(unittest.TestCase):
    """Keras's ``testing.TestCase`` helpers these tests use, on rnnkit."""

    maxDiff = None

    def assertAllClose(self, actual, desired, atol=1e-6, rtol=1e-6, tpu_atol=None, tpu_rtol=None,
                       msg=None):
        np.testing.assert_allclose(convert_to_numpy(actual), convert_to_numpy(desired), atol=atol,
                                   rtol=rtol, err_msg=msg or "")

    def run_class_serialization_test(self, instance):
        cls = type(instance)
        config_json = _json(instance.get_config())
        ref_dir = set(dir(instance))
        revived = cls.from_config(instance.get_config())
        self.assertEqual(config_json, _json(revived.get_config()))
        self.assertEqual(ref_dir, set(dir(revived)))
        revived = layers.deserialize(json.loads(json.dumps(layers.serialize(instance))))
        self.assertEqual(config_json, _json(revived.get_config()))
        self.assertEqual(ref_dir - {"__annotations__"}, set(dir(revived)) - {"__annotations__"})

    def run_layer_test(
        self,
        layer_cls,
        init_kwargs,
        input_shape=None,
        call_kwargs=None,
        expected_output_shape=None,
        expected_num_trainable_weights=None,
        expected_num_non_trainable_weights=None,
        supports_masking=None,
        run_training_check=True,
    ):
        call_kwargs = call_kwargs or {}
        layer = layer_cls(**init_kwargs)
        self.run_class_serialization_test(layer)
        if supports_masking is not None:
            self.assertEqual(layer.supports_masking, supports_masking,
                             msg="Unexpected supports_masking value")

        def build_asserts(layer):
            self.assertTrue(layer.built)
            if expected_num_trainable_weights is not None:
                self.assertEqual(len(layer.trainable_weights), expected_num_trainable_weights,
                                 msg="Unexpected number of trainable_weights")
            if expected_num_non_trainable_weights is not None:
                self.assertEqual(len(layer.non_trainable_weights),
                                 expected_num_non_trainable_weights,
                                 msg="Unexpected number of non_trainable_weights")

        def output_asserts(output):
            if expected_output_shape is None:
                return
            want = [expected_output_shape] if _is_shape(expected_output_shape) else list(
                expected_output_shape)
            got = [tuple(o.shape) for o in _leaves(output)]
            ok = len(got) == len(want) and all(
                len(g) == len(w) and all(wd is None or wd == gd for wd, gd in zip(w, g))
                for g, w in zip(got, want)
            )
            self.assertTrue(ok, msg=f"Expected output shapes {expected_output_shape} but "
                                    f"received {got}")

        # build from the shape
        layer = layer_cls(**init_kwargs)
        layer.build(input_shape)
        build_asserts(layer)
        # symbolic call
        layer = layer_cls(**init_kwargs)
        sym_out = layer(rnnkit.Input(batch_shape=tuple(input_shape)), **call_kwargs)
        build_asserts(layer)
        output_asserts(sym_out)
        # eager call and one training step
        data = torch.rand(tuple(input_shape)) * 3
        layer = layer_cls(**init_kwargs)
        out = layer(data, **call_kwargs)
        build_asserts(layer)
        output_asserts(out)
        if run_training_check:
            class TestModel(rnnkit.Model):
                def __init__(self, layer):
                    super().__init__()
                    self.layer = layer

                def call(self, x, training=False):
                    return self.layer(x, training=training)

            class TestLoss(rnnkit.losses.Loss):
                def __call__(self, y_true, y_pred, sample_weight=None):
                    return torch.sum(y_pred)

            model = TestModel(layer)
            model.compile(optimizer="sgd", loss=TestLoss())
            pair = (data.numpy(), convert_to_numpy(out))

            def gen():
                while True:
                    yield pair

            model.fit(gen(), steps_per_epoch=1, verbose=0)


testing = types.SimpleNamespace(TestCase=TestCase)
