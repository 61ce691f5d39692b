"""Float64 reference fixtures for the non-recurrent layers, computed by real Keras 3.15 on JAX.

Run from the repository root (the test suite never runs this):

    KERAS_BACKEND=jax /work/venv-jax/bin/python scripts/make_layer_fixtures.py

For every case it builds the Keras layer in float64, calls it on small random inputs and records,
in ``tests/fixtures/keras_layers/<case>.npz``: the inputs ``in<i>``, the layer's weights ``w<i>``
(``layer.weights`` order), the outputs ``out<i>``, a fixed random upstream gradient ``up<i>``
and the gradients of ``sum(out * up)`` with respect to the float inputs (``gin<i>``) and the
weights (``gw<i>``), taken with ``jax.grad``. ``cases.json`` lists each case: the layer's
serialized Keras dict (``keras.saving.serialize_keras_object``), how it is called
(``"single"`` tensor, ``"list"`` of tensors or ``"positional"`` tensors), static call keyword
arguments, masks passed as call arguments (``mask_args``: argument name -> npz keys, list
masks as a list of keys or null) and inputs that go through ``Masking(0.0)`` first
(``masked_inputs``: their Keras masks reach the layer as in a functional model).
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers as L  # noqa: E402

keras.config.set_floatx("float64")


# Keras 3.15's type promotion (``keras.src.backend.common.dtypes.result_type``) maps float64 to
# float32 on every backend but TensorFlow (``BIT64_TO_BIT32_DTYPE``, "aligned with JAX's default"
# of x64 off), so ops that promote through it (``ops.mean``, ``ops.tanh``, ``ops.sin`` ...)
# compute float64 inputs in float32. JAX here runs with x64 enabled, so the script lifts that one
# table entry: the layers' math is unchanged, only no float32 rounding (~1e-7) enters the
# float64 fixtures. ``add`` asserts that every recorded array is float64.
from keras.src.backend.common import dtypes as _keras_dtypes  # noqa: E402

_keras_dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "keras_layers")
RNG = np.random.default_rng(20261201)
CASES: list[dict] = []


def rand(*shape, scale=1.0):
    return RNG.normal(size=shape) * scale


def add(name, layer, inputs, call="single", kwargs=None, mask_args=None, masked_inputs=()):
    """Record one case: ``layer`` called on ``inputs`` (list of float arrays)."""
    tol, note = 1e-8, None
    if isinstance(layer, L.MultiHeadAttention) and not layer.dropout and not (
        (kwargs or {}).get("return_attention_scores")
    ):
        # Keras's fused path, jax.nn.dot_product_attention, always takes the softmax in float32.
        tol, note = 2e-6, "fused path: JAX computes the softmax in float32"
    kwargs = dict(kwargs or {})
    mask_args = dict(mask_args or {})
    masked_inputs = list(masked_inputs)
    arrays = {f"in{i}": x for i, x in enumerate(inputs)}
    mask_kw, mask_spec = {}, {}
    for arg, value in mask_args.items():
        if isinstance(value, list):
            keys = []
            for j, m in enumerate(value):
                if m is None:
                    keys.append(None)
                else:
                    arrays[f"mask_{arg}{j}"] = m
                    keys.append(f"mask_{arg}{j}")
            mask_kw[arg] = [None if m is None else jnp.asarray(m) for m in value]
            mask_spec[arg] = keys
        else:
            arrays[f"mask_{arg}"] = value
            mask_kw[arg] = jnp.asarray(value)
            mask_spec[arg] = f"mask_{arg}"

    def wire(xs):
        if call == "single":
            return (xs[0],)
        if call == "list":
            return (list(xs),)
        return tuple(xs)

    if masked_inputs:
        # Keras masks exist only on symbolic tensors: go through a functional model.
        sym = [keras.Input(shape=x.shape[1:], batch_size=x.shape[0], dtype="float64") for x in inputs]
        xs = [L.Masking(0.0)(s) if i in masked_inputs else s for i, s in enumerate(sym)]
        model = keras.Model(sym, layer(*wire(xs), **kwargs))
        runner, variables = model, model.trainable_variables
        non_train = model.non_trainable_variables

        def forward(tv, xs):
            out, _ = runner.stateless_call(tv, non_train, list(xs))
            return out
    else:
        layer(*wire([jnp.asarray(x) for x in inputs]), **kwargs, **mask_kw)  # build
        variables = layer.trainable_variables
        non_train = layer.non_trainable_variables

        def forward(tv, xs):
            out, _ = layer.stateless_call(tv, non_train, *wire(xs), **kwargs, **mask_kw)
            return out

    assert [id(v) for v in variables] == [id(v) for v in layer.weights], name
    tv = [jnp.asarray(v.value) for v in variables]
    xs = [jnp.asarray(x) for x in inputs]
    outs = forward(tv, xs)
    outs = list(outs) if isinstance(outs, tuple | list) else [outs]
    ups = [rand(*o.shape) for o in outs]

    def loss(tv, xs):
        o = forward(tv, xs)
        o = list(o) if isinstance(o, tuple | list) else [o]
        return sum(jnp.sum(a * u) for a, u in zip(o, ups))

    g_w, g_in = jax.grad(loss, argnums=(0, 1))(tv, xs)
    for a in [*outs, *g_w, *g_in, *tv]:
        assert a.dtype == jnp.float64, (name, a.dtype)  # nothing computed in float32
    for i, o in enumerate(outs):
        arrays[f"out{i}"] = np.asarray(o)
        arrays[f"up{i}"] = ups[i]
    for i, w in enumerate(tv):
        arrays[f"w{i}"] = np.asarray(w)
        arrays[f"gw{i}"] = np.asarray(g_w[i])
    for i, g in enumerate(g_in):
        arrays[f"gin{i}"] = np.asarray(g)
    np.savez_compressed(os.path.join(OUT, f"{name}.npz"), **arrays)
    CASES.append(
        {
            "name": name,
            "layer": keras.saving.serialize_keras_object(layer),
            "call": call,
            "kwargs": kwargs,
            "mask_args": mask_spec,
            "masked_inputs": masked_inputs,
            "n_inputs": len(inputs),
            "n_outputs": len(outs),
            "n_weights": len(tv),
            "tolerance": tol,
            "tolerance_note": note,
        }
    )


def with_zero_steps(x, lengths):
    """Zero the steps after ``lengths[b]`` (Masking(0.0) then masks them)."""
    x = x.copy()
    for b, n in enumerate(lengths):
        x[b, n:] = 0.0
    return x


def seq_mask(lengths, T):
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


def conv_cases():
    x = rand(2, 9, 4)
    add("conv1d_valid", L.Conv1D(3, 3, activation="tanh"), [x])
    add("conv1d_same_stride2", L.Conv1D(3, 4, strides=2, padding="same"), [x])
    add("conv1d_causal_dil2", L.Conv1D(2, 3, padding="causal", dilation_rate=2), [x])
    add("conv1d_same_dil3", L.Conv1D(2, 2, padding="same", dilation_rate=3), [x])
    add("conv1d_valid_stride3_nobias", L.Conv1D(5, 2, strides=3, use_bias=False), [x])
    add("conv1d_groups2_same", L.Conv1D(6, 3, padding="same", groups=2), [x])
    add(
        "conv1d_channels_first",
        L.Conv1D(3, 2, strides=2, padding="same", data_format="channels_first"),
        [rand(2, 4, 7)],
    )
    add(
        "conv1d_causal_channels_first",
        L.Conv1D(3, 3, padding="causal", data_format="channels_first"),
        [rand(2, 4, 6)],
    )
    x2 = rand(2, 7, 6, 3)
    add("conv2d_valid", L.Conv2D(2, (3, 2), activation="relu"), [x2])
    add("conv2d_same_strides", L.Conv2D(4, 3, strides=(2, 3), padding="same"), [x2])
    add("conv2d_dilation", L.Conv2D(2, 2, dilation_rate=(2, 1), padding="same"), [x2])
    add("conv2d_groups", L.Conv2D(4, 2, groups=2, padding="valid"), [rand(2, 5, 5, 4)])
    add(
        "conv2d_channels_first",
        L.Conv2D(3, (2, 3), strides=2, padding="same", data_format="channels_first"),
        [rand(2, 3, 6, 7)],
    )
    add("conv3d_same", L.Conv3D(2, 2, strides=(1, 2, 1), padding="same"), [rand(1, 3, 5, 4, 2)])
    add("separable_conv1d_same", L.SeparableConv1D(3, 3, padding="same", depth_multiplier=2), [x])
    add(
        "separable_conv1d_strides_cf",
        L.SeparableConv1D(2, 2, strides=2, data_format="channels_first", activation="tanh"),
        [rand(2, 3, 9)],
    )
    add("separable_conv1d_dilation", L.SeparableConv1D(4, 3, dilation_rate=2), [x])
    add("separable_conv2d", L.SeparableConv2D(3, 2, padding="same", strides=2), [x2])


def pooling_cases():
    x = rand(2, 9, 3)
    add("maxpool1d_default", L.MaxPooling1D(), [x])
    add("maxpool1d_same", L.MaxPooling1D(3, strides=2, padding="same"), [x])
    add("maxpool1d_cf", L.MaxPooling1D(2, strides=1, data_format="channels_first"), [rand(2, 3, 5)])
    add("avgpool1d_default", L.AveragePooling1D(2), [x])
    add("avgpool1d_same", L.AveragePooling1D(4, strides=2, padding="same"), [x])
    add(
        "avgpool1d_same_cf",
        L.AveragePooling1D(3, padding="same", data_format="channels_first"),
        [rand(2, 3, 7)],
    )
    x2 = rand(2, 7, 6, 2)
    add("maxpool2d_default", L.MaxPooling2D(), [x2])
    add("maxpool2d_same", L.MaxPooling2D((3, 2), strides=2, padding="same"), [x2])
    add("avgpool2d_same", L.AveragePooling2D(3, strides=(2, 1), padding="same"), [x2])
    add("avgpool2d_cf", L.AveragePooling2D(2, data_format="channels_first"), [rand(2, 2, 5, 4)])
    x3 = rand(1, 4, 5, 3, 2)
    add("maxpool3d_same", L.MaxPooling3D(2, padding="same"), [x3])
    add("avgpool3d_same", L.AveragePooling3D(2, padding="same"), [x3])
    add("gap1d", L.GlobalAveragePooling1D(), [x])
    add("gap1d_keepdims", L.GlobalAveragePooling1D(keepdims=True), [x])
    add("gap1d_mask", L.GlobalAveragePooling1D(), [x], mask_args={"mask": seq_mask([9, 4], 9)})
    add(
        "gap1d_mask_cf_keepdims",
        L.GlobalAveragePooling1D(data_format="channels_first", keepdims=True),
        [rand(2, 3, 6)],
        mask_args={"mask": seq_mask([2, 6], 6)},
    )
    add(
        "gap1d_masking_layer",
        L.GlobalAveragePooling1D(),
        [with_zero_steps(x, [5, 9])],
        masked_inputs=[0],
    )
    add("gmp1d", L.GlobalMaxPooling1D(), [x])
    add("gmp1d_keepdims_cf", L.GlobalMaxPooling1D(data_format="channels_first", keepdims=True), [x])
    add("gmp1d_masking_layer", L.GlobalMaxPooling1D(), [with_zero_steps(x, [5, 9])],
        masked_inputs=[0])
    add("gap2d", L.GlobalAveragePooling2D(), [x2])
    add("gmp2d_keepdims", L.GlobalMaxPooling2D(keepdims=True), [x2])
    add("gap3d_cf", L.GlobalAveragePooling3D(data_format="channels_first"), [x3])
    add("gmp3d", L.GlobalMaxPooling3D(), [x3])


def reshaping_cases():
    x = rand(2, 4, 3)
    add("flatten_3d", L.Flatten(), [x])
    add("flatten_4d_cf", L.Flatten(data_format="channels_first"), [rand(2, 3, 2, 4)])
    add("reshape", L.Reshape((-1, 2)), [rand(2, 3, 4)])
    add("permute_21", L.Permute((2, 1)), [x])
    add("permute_312", L.Permute((3, 1, 2)), [rand(2, 2, 3, 4)])
    add("repeat_vector", L.RepeatVector(3), [rand(2, 5)])
    add("zero_padding1d", L.ZeroPadding1D((1, 2)), [x])
    add("zero_padding1d_cf", L.ZeroPadding1D(2, data_format="channels_first"), [x])
    add("cropping1d", L.Cropping1D((1, 2)), [rand(2, 6, 3)])
    add("cropping1d_end0", L.Cropping1D((2, 0)), [rand(2, 6, 3)])
    add("upsampling1d", L.UpSampling1D(3), [x])


def activation_cases():
    x = rand(2, 5, 3)
    add("leaky_relu_default", L.LeakyReLU(), [x])
    add("leaky_relu_slope", L.LeakyReLU(negative_slope=0.05), [x])
    add("prelu", L.PReLU(alpha_initializer=keras.initializers.RandomNormal(seed=1)), [x])
    add(
        "prelu_shared",
        L.PReLU(alpha_initializer=keras.initializers.RandomUniform(0.1, 0.5, seed=2),
                shared_axes=[1]),
        [x],
    )
    add("elu", L.ELU(alpha=0.7), [x])
    add("softmax", L.Softmax(), [x])
    add("softmax_axis1", L.Softmax(axis=1), [x])
    add("softmax_axes", L.Softmax(axis=(1, 2)), [x])
    scores = rand(2, 4, 5)
    add("softmax_mask", L.Softmax(), [scores], mask_args={"mask": seq_mask([5, 3], 5)[:, None, :]})
    add("softmax_mask_full", L.Softmax(), [scores],
        mask_args={"mask": RNG.uniform(size=(2, 4, 5)) > 0.3})


def attention_cases():
    B, Tq, Tv, D = 2, 4, 5, 3
    q, v, k = rand(B, Tq, D), rand(B, Tv, D), rand(B, Tv, D)
    qm, vm = seq_mask([4, 2], Tq), seq_mask([5, 3], Tv)
    add("attention_dot", L.Attention(), [q, v], call="list")
    add("attention_key_scale", L.Attention(use_scale=True), [q, v, k], call="list")
    add("attention_concat", L.Attention(score_mode="concat", use_scale=True), [q, v], call="list")
    add("attention_masks_scores", L.Attention(), [q, v], call="list",
        kwargs={"return_attention_scores": True}, mask_args={"mask": [qm, vm]})
    add("attention_vmask_only", L.Attention(use_scale=True), [q, v, k], call="list",
        mask_args={"mask": [None, vm]})
    add("attention_causal", L.Attention(), [q, q], call="list",
        kwargs={"use_causal_mask": True, "return_attention_scores": True})
    add("attention_causal_vmask", L.Attention(), [q, rand(B, Tq, D)], call="list",
        kwargs={"use_causal_mask": True}, mask_args={"mask": [qm, seq_mask([3, 4], Tq)]})
    add("attention_masking_layer", L.Attention(), [with_zero_steps(q, [4, 3]),
                                                    with_zero_steps(v, [2, 5])],
        call="list", masked_inputs=[0, 1])
    add("additive_attention", L.AdditiveAttention(), [q, v, k], call="list")
    add("additive_attention_masks", L.AdditiveAttention(), [q, v], call="list",
        kwargs={"return_attention_scores": True}, mask_args={"mask": [qm, vm]})
    add("additive_attention_noscale_causal", L.AdditiveAttention(use_scale=False), [q, q],
        call="list", kwargs={"use_causal_mask": True})

    E = 6
    q, v, k = rand(B, Tq, E), rand(B, Tv, E), rand(B, Tv, 5)
    add("mha_basic", L.MultiHeadAttention(2, 3), [q, v], call="positional")
    add("mha_key_scores", L.MultiHeadAttention(3, 2, value_dim=4), [q, v, k], call="positional",
        kwargs={"return_attention_scores": True})
    add("mha_self_causal", L.MultiHeadAttention(2, 4), [q, q], call="positional",
        kwargs={"use_causal_mask": True})
    add("mha_causal_scores", L.MultiHeadAttention(2, 4), [q, q], call="positional",
        kwargs={"use_causal_mask": True, "return_attention_scores": True})
    add("mha_output_shape_nobias", L.MultiHeadAttention(2, 3, use_bias=False, output_shape=4),
        [q, v], call="positional")
    add("mha_value_mask", L.MultiHeadAttention(2, 3), [q, v], call="positional",
        mask_args={"value_mask": vm})
    add("mha_attention_mask", L.MultiHeadAttention(2, 3), [q, v], call="positional",
        mask_args={"attention_mask": RNG.uniform(size=(B, Tq, Tv)) > 0.3},
        kwargs={"return_attention_scores": True})
    qz, vz = with_zero_steps(q, [4, 2]), with_zero_steps(v, [3, 5])
    add("mha_masking_layers", L.MultiHeadAttention(2, 3), [qz, vz], call="positional",
        masked_inputs=[0, 1])
    add("mha_masking_layers_scores", L.MultiHeadAttention(2, 3), [qz, vz], call="positional",
        masked_inputs=[0, 1], kwargs={"return_attention_scores": True})
    add("mha_masking_causal", L.MultiHeadAttention(2, 3), [qz, qz], call="positional",
        masked_inputs=[0, 1], kwargs={"use_causal_mask": True})
    # The same configurations through Keras's einsum path (taken whenever dropout > 0; the calls
    # are inference, so no dropout is drawn): float64 throughout, compared to 1e-8.
    add("mha_basic_einsum", L.MultiHeadAttention(2, 3, dropout=0.1), [q, v], call="positional")
    add("mha_self_causal_einsum", L.MultiHeadAttention(2, 4, dropout=0.1), [q, q],
        call="positional", kwargs={"use_causal_mask": True})
    add("mha_value_mask_einsum", L.MultiHeadAttention(2, 3, dropout=0.1), [q, v],
        call="positional", mask_args={"value_mask": vm})
    add("mha_masking_layers_einsum", L.MultiHeadAttention(2, 3, dropout=0.1), [qz, vz],
        call="positional", masked_inputs=[0, 1])
    add("mha_gate_window_einsum", L.MultiHeadAttention(2, 3, use_gate=True, sliding_window=2,
                                                       dropout=0.1), [q, q], call="positional")
    add("mha_gate_window", L.MultiHeadAttention(2, 3, use_gate=True, sliding_window=2), [q, q],
        call="positional")


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".npz"):
            os.remove(os.path.join(OUT, f))
    conv_cases()
    pooling_cases()
    reshaping_cases()
    activation_cases()
    attention_cases()
    meta = {
        "source": "scripts/make_layer_fixtures.py",
        "keras": keras.__version__,
        "jax": jax.__version__,
        "backend": keras.backend.backend(),
        "floatx": keras.config.floatx(),
        "cases": CASES,
    }
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    print(f"{len(CASES)} cases written to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
