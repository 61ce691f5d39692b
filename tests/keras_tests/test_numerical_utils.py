"""Ported from keras/src/utils/numerical_utils_test.py (Keras 3.15.1).

API translation: ``numerical_utils.to_categorical`` / ``normalize`` -> ``rnnkit.utils``;
Keras backend tensors are torch tensors (``backend.convert_to_tensor`` -> ``torch.as_tensor``,
``backend.random.uniform((3, 3), seed=1337)`` -> ``torch.rand`` under a fixed generator).
Skipped: ``test_build_pos_neg_masks`` (``build_pos_neg_masks`` is a Keras-internal helper for
contrastive losses, not part of the data utilities rnnkit provides).
"""

import numpy as np
import pytest
import torch

from rnnkit.utils import normalize, to_categorical
from tests.keras_tests._data_shim import KerasAsserts

NUM_CLASSES = 5


class TestNumericalUtils(KerasAsserts):
    @pytest.mark.parametrize(
        "shape, expected_shape",
        [
            ((1,), (1, NUM_CLASSES)),
            ((3,), (3, NUM_CLASSES)),
            ((4, 3), (4, 3, NUM_CLASSES)),
            ((5, 4, 3), (5, 4, 3, NUM_CLASSES)),
            ((3, 1), (3, NUM_CLASSES)),
            ((3, 2, 1), (3, 2, NUM_CLASSES)),
        ],
    )
    def test_to_categorical(self, shape, expected_shape):
        label = np.random.randint(0, NUM_CLASSES, shape)
        one_hot = to_categorical(label, NUM_CLASSES)
        # Check shape
        self.assertEqual(one_hot.shape, expected_shape)
        # Make sure there is only one 1 in a row
        self.assertTrue(np.all(one_hot.sum(axis=-1) == 1))
        # Get original labels back from one hots
        self.assertTrue(np.all(np.argmax(one_hot, -1).reshape(label.shape) == label))

    def test_to_categorical_without_num_classes(self):
        label = [0, 2, 5]
        one_hot = to_categorical(label)
        self.assertEqual(one_hot.shape, (3, 5 + 1))

    def test_to_categorical_with_backend_tensor(self):
        label = torch.as_tensor(np.array([0, 2, 1, 3, 4]))
        expected = torch.as_tensor(
            np.array(
                [
                    [1, 0, 0, 0, 0],
                    [0, 0, 1, 0, 0],
                    [0, 1, 0, 0, 0],
                    [0, 0, 0, 1, 0],
                    [0, 0, 0, 0, 1],
                ]
            )
        )
        one_hot = to_categorical(label, NUM_CLASSES)
        self.assertTrue(isinstance(one_hot, torch.Tensor))
        self.assertAllClose(one_hot, expected)

    @pytest.mark.parametrize("order", [1, 2, 3])
    def test_normalize(self, order):
        xb = torch.rand((3, 3), generator=torch.Generator().manual_seed(1337))
        xnp = xb.numpy()

        # Expected result
        l2 = np.atleast_1d(np.linalg.norm(xnp, order, axis=-1))
        l2[l2 == 0] = 1
        expected = xnp / np.expand_dims(l2, axis=-1)

        # Test NumPy
        out = normalize(xnp, axis=-1, order=order)
        self.assertIsInstance(out, np.ndarray)
        self.assertAllClose(out, expected)

        # Test backend
        out = normalize(xb, axis=-1, order=order)
        self.assertTrue(isinstance(out, torch.Tensor))
        self.assertAllClose(out.numpy(), expected)

    @pytest.mark.skip(reason="build_pos_neg_masks is a Keras-internal helper of contrastive losses, not a data utility")
    def test_build_pos_neg_masks(self):
        pass
