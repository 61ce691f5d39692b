"""Custom cells from the tutorials in shared/seeds, after the import swap (torch ops), shared by
the tests that run them."""

from __future__ import annotations

import torch

from rnnkit import layers


class NestedCell(layers.Layer):
    """The Keras guide's (000) NestedCell; it sets attributes BEFORE ``super().__init__``."""

    def __init__(self, unit_1, unit_2, unit_3, **kwargs):
        self.unit_1 = unit_1
        self.unit_2 = unit_2
        self.unit_3 = unit_3
        self.state_size = [torch.Size([unit_1]), torch.Size([unit_2, unit_3])]
        self.output_size = [torch.Size([unit_1]), torch.Size([unit_2, unit_3])]
        super().__init__(**kwargs)

    def build(self, input_shapes):
        i1 = input_shapes[0][1]
        i2 = input_shapes[1][1]
        i3 = input_shapes[1][2]
        self.kernel_1 = self.add_weight(
            shape=(i1, self.unit_1), initializer="uniform", name="kernel_1"
        )
        self.kernel_2_3 = self.add_weight(
            shape=(i2, i3, self.unit_2, self.unit_3), initializer="uniform", name="kernel_2_3"
        )

    def call(self, inputs, states):
        input_1, input_2 = inputs
        s1, s2 = states
        output_1 = torch.matmul(input_1, self.kernel_1)
        output_2_3 = torch.einsum("bij,ijkl->bkl", input_2, self.kernel_2_3)
        state_1 = s1 + output_1
        state_2_3 = s2 + output_2_3
        output = (output_1, output_2_3)
        new_states = (state_1, state_2_3)
        return output, new_states

    def get_config(self):
        return {"unit_1": self.unit_1, "unit_2": self.unit_2, "unit_3": self.unit_3}


class CustomRNNCell(layers.Layer):
    """004's cell. The article never sets ``state_size`` (tf.keras refuses such a cell, and so
    does rnnkit); ``self.state_size = units`` is the one added line."""

    def __init__(self, units):
        super(CustomRNNCell, self).__init__()  # noqa: UP008 (the tutorial's spelling)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="uniform", name="kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units), initializer="uniform", name="recurrent_kernel"
        )
        self.built = True

    def call(self, inputs, states):
        prev_output = states[0]
        h = torch.matmul(inputs, self.kernel)
        output = h + torch.matmul(prev_output, self.recurrent_kernel)
        return output, [output]
