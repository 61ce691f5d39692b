"""Keras's ``testing.TestCase`` assertions for the ported data / preprocessing tests.

Only API translation: each helper asserts what Keras's helper of the same name asserts.
"""

from __future__ import annotations

import re
import tempfile

import numpy as np
import torch

from rnnkit.layers import deserialize, serialize


def to_numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


class KerasAsserts:
    """assertAllClose / assertNotAllClose / assertLen / assertDType / get_temp_dir / ... as in Keras."""

    def assertAllClose(self, x1, x2, atol=1e-6, rtol=1e-6, msg=None):
        np.testing.assert_allclose(to_numpy(x1), to_numpy(x2), atol=atol, rtol=rtol, err_msg=msg or "")

    def assertNotAllClose(self, x1, x2, atol=1e-6, rtol=1e-6, msg=None):
        try:
            self.assertAllClose(x1, x2, atol=atol, rtol=rtol)
        except AssertionError:
            return
        raise AssertionError(msg or f"The two values are close at all elements: {x1} vs {x2}")

    def assertAllEqual(self, x1, x2):
        np.testing.assert_array_equal(to_numpy(x1), to_numpy(x2))

    def assertLen(self, container, expected_len):
        assert len(container) == expected_len, f"len {len(container)} != {expected_len}"

    def assertEqual(self, a, b, msg=None):
        assert a == b, msg or f"{a!r} != {b!r}"

    def assertTrue(self, a, msg=None):
        assert a, msg

    def assertFalse(self, a, msg=None):
        assert not a, msg

    def assertIn(self, a, b):
        assert a in b, f"{a!r} not in {b!r}"

    def assertNotIn(self, a, b):
        assert a not in b, f"{a!r} in {b!r}"

    def assertIsNone(self, a):
        assert a is None, f"{a!r} is not None"

    def assertIsNotNone(self, a):
        assert a is not None

    def assertIsInstance(self, a, cls):
        assert isinstance(a, cls), f"{type(a)} is not {cls}"

    def assertLess(self, a, b):
        assert a < b, f"{a} >= {b}"

    def assertGreater(self, a, b):
        assert a > b, f"{a} <= {b}"

    def assertDType(self, x, dtype):
        """Keras: ``standardize_dtype(x.dtype) == dtype``; strings are numpy str / object arrays here."""
        if dtype == "string":
            arr = np.asarray(x)
            ok = arr.dtype.kind in ("U", "S") or (arr.dtype == object and all(isinstance(v, str) for v in arr.flat))
            assert ok, f"{arr.dtype} is not a string dtype"
            return
        got = str(x.dtype).replace("torch.", "")
        assert got == dtype, f"dtype {got} != {dtype}"

    def assertRaisesRegex(self, exc, pattern):
        import pytest

        return pytest.raises(exc, match=re.compile(pattern, re.S))

    def assertRaises(self, exc):
        import pytest

        return pytest.raises(exc)

    def get_temp_dir(self):
        return tempfile.mkdtemp()

    def run_class_serialization_test(self, instance):
        """The config part of Keras's check: from_config(get_config()) and serialize / deserialize give the same config."""
        cls = type(instance)
        config = instance.get_config()
        revived = cls.from_config(config)
        assert revived.get_config() == config, f"{revived.get_config()} != {config}"
        again = deserialize(serialize(instance))
        assert type(again) is cls
        assert again.get_config() == config

    def run_layer_test(self, layer_cls, init_kwargs, input_shape, expected_output_shape,
                       expected_num_trainable_weights=None, expected_num_non_trainable_weights=None,
                       expected_num_seed_generators=0, expected_num_losses=0, supports_masking=None):
        """The checks of Keras's ``run_layer_test`` that apply to weightless / preprocessing layers.

        Config round trip, eager call output shape, symbolic call output shape, weight counts
        (after build), ``supports_masking`` and the number of losses. rnnkit has no seed
        generators on these layers (``expected_num_seed_generators`` must be 0).
        """
        from rnnkit.layers import Input

        assert expected_num_seed_generators == 0
        layer = layer_cls(**init_kwargs)
        self.run_class_serialization_test(layer)
        x = np.random.random(input_shape)
        out = layer(x)
        self.assertEqual(tuple(out.shape), tuple(expected_output_shape))
        if expected_num_trainable_weights is not None:
            self.assertLen(layer.trainable_weights, expected_num_trainable_weights)
        if expected_num_non_trainable_weights is not None:
            self.assertLen(layer.non_trainable_weights, expected_num_non_trainable_weights)
        self.assertLen(layer.losses, expected_num_losses)
        if supports_masking is not None:
            self.assertEqual(bool(layer.supports_masking), supports_masking)
        sym = layer_cls(**init_kwargs)(Input(batch_shape=input_shape))
        self.assertEqual(tuple(sym.shape), tuple(expected_output_shape))
