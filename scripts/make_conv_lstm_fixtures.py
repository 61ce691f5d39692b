"""Float64 reference numbers for ConvLSTM1D/2D/3D, ConvLSTMCell and Conv3D from real Keras.

Run with the JAX venv (Keras's torch backend computes float64 in float32):

    KERAS_BACKEND=jax /work/venv-jax/bin/python scripts/make_conv_lstm_fixtures.py

For each case it records the layer's Keras config, weights (set from a seeded generator),
inputs (and mask / initial state), every output (sequence or last output, then the states) and
the gradients of ``sum(output_k * cotangent_k)`` (fixed random cotangents) with respect to the
inputs, the initial state and every weight. Writes tests/fixtures/keras_conv_lstm/{cases.json,
arrays.npz}.
"""

from __future__ import annotations

import json
import os
import pathlib

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

# Keras 3.15's type promotion maps float64 to float32 on every backend but TensorFlow
# (dtypes.BIT64_TO_BIT32_DTYPE, "to be aligned with JAX's default"), so ops.tanh(x) of a float64
# x runs in float32 on JAX: ~1e-7 errors in every tanh of a float64 ConvLSTM. Keep float64 as
# Keras's TensorFlow backend does; nothing else in the computation changes.
from keras.src.backend.common import dtypes as _keras_dtypes  # noqa: E402
from keras.src.layers.rnn.conv_lstm import ConvLSTMCell  # noqa: E402

_keras_dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "keras_conv_lstm"

# name: (class name, constructor kwargs, input shape, extras)
# Masked cases use unroll=True: Keras 3.15's JAX scan path cannot broadcast a (batch, time)
# mask against ConvLSTM outputs (it raises); its unrolled path applies the mask as documented.
# extras: "mask" (B, T) rows of valid lengths, "initial_state": True, "stateful_second": True
CASES = {
    "lstm1d_same_seq_state": (
        "ConvLSTM1D",
        dict(filters=3, kernel_size=3, padding="same", return_sequences=True, return_state=True),
        (2, 3, 5, 2), {},
    ),
    "lstm1d_strided_cf_backwards": (
        "ConvLSTM1D",
        dict(filters=2, kernel_size=2, strides=2, data_format="channels_first",
             recurrent_activation="hard_sigmoid", go_backwards=True, return_state=True),
        (2, 4, 3, 7), {},
    ),
    "lstm1d_dilated_nobias_relu_mask": (
        "ConvLSTM1D",
        dict(filters=2, kernel_size=3, dilation_rate=2, padding="same", use_bias=False,
             activation="relu", return_sequences=True, unroll=True),
        (3, 4, 6, 2), {"mask": [4, 2, 3]},
    ),
    "lstm1d_initial_state_even_kernel": (
        "ConvLSTM1D",
        dict(filters=2, kernel_size=4, padding="same", return_state=True),
        (2, 3, 5, 1), {"initial_state": True},
    ),
    "lstm2d_same_seq_state": (
        "ConvLSTM2D",
        dict(filters=2, kernel_size=(3, 2), padding="same", return_sequences=True,
             return_state=True),
        (2, 3, 4, 5, 2), {},
    ),
    "lstm2d_cf_strided_backwards": (
        "ConvLSTM2D",
        dict(filters=3, kernel_size=2, strides=(2, 1), data_format="channels_first",
             unit_forget_bias=False, go_backwards=True, return_sequences=True),
        (2, 3, 2, 5, 4), {},
    ),
    "lstm2d_dilated_mask_state": (
        "ConvLSTM2D",
        dict(filters=2, kernel_size=3, dilation_rate=(1, 2), padding="same",
             return_sequences=True, return_state=True, activation="sigmoid", unroll=True),
        (3, 4, 4, 5, 1), {"mask": [4, 1, 3]},
    ),
    "lstm2d_valid_initial_state": (
        "ConvLSTM2D",
        dict(filters=2, kernel_size=3, return_state=True),
        (2, 3, 5, 5, 2), {"initial_state": True},
    ),
    "lstm2d_stateful": (
        "ConvLSTM2D",
        dict(filters=2, kernel_size=2, padding="same", stateful=True, return_sequences=True),
        (2, 3, 3, 4, 1), {"stateful_second": True},
    ),
    "lstm3d_even_same_seq_state": (
        "ConvLSTM3D",
        dict(filters=2, kernel_size=2, padding="same", return_sequences=True,
             return_state=True),
        (2, 3, 3, 3, 3, 1), {},
    ),
    "lstm3d_cf_strided_state": (
        "ConvLSTM3D",
        dict(filters=2, kernel_size=(2, 3, 2), strides=2, data_format="channels_first",
             return_state=True),
        (2, 2, 2, 4, 5, 4), {},
    ),
    "lstm3d_mask_backwards": (
        "ConvLSTM3D",
        dict(filters=1, kernel_size=3, padding="same", go_backwards=True,
             return_sequences=True, unroll=True),
        (2, 3, 3, 3, 2, 2), {"mask": [3, 2]},
    ),
    "cell2d_step": (
        "ConvLSTMCell",
        dict(rank=2, filters=3, kernel_size=3, padding="same"),
        (2, 4, 4, 2), {"cell_states": True},
    ),
    "conv3d_same_strided_sigmoid": (
        "Conv3D",
        dict(filters=2, kernel_size=3, strides=2, padding="same", activation="sigmoid"),
        (2, 5, 4, 3, 2), {},
    ),
    "conv3d_cf_dilated_nobias": (
        "Conv3D",
        dict(filters=3, kernel_size=2, dilation_rate=2, data_format="channels_first",
             use_bias=False),
        (2, 2, 5, 4, 5), {},
    ),
    "conv3d_even_same": (
        "Conv3D",
        dict(filters=2, kernel_size=(2, 3, 4), padding="same"),
        (1, 4, 4, 4, 1), {},
    ),
}


def _make(cls_name, kwargs):
    if cls_name == "ConvLSTMCell":
        return ConvLSTMCell(dtype="float64", **kwargs)
    return getattr(keras.layers, cls_name)(dtype="float64", **kwargs)


def _mask(lengths, B, T):
    m = np.zeros((B, T), dtype=bool)
    for b, n in enumerate(lengths):
        m[b, :n] = True
    return m


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))


def make_case(name, cls_name, kwargs, shape, extras, rng, arrays):
    layer = _make(cls_name, kwargs)
    x = rng.standard_normal(shape)
    is_cell = cls_name == "ConvLSTMCell"
    is_rnn = cls_name.startswith("ConvLSTM") and not is_cell
    mask = _mask(extras["mask"], shape[0], shape[1]) if "mask" in extras else None
    step_shape = (shape[0], *shape[2:]) if is_rnn else shape
    layer.build(shape)
    # weights: uniform(-0.5, 0.5), seeded
    weights = [rng.uniform(-0.5, 0.5, w.shape) for w in layer.get_weights()]
    layer.set_weights(weights)
    states0 = None
    if is_rnn and extras.get("initial_state"):
        state_shape = layer.cell.compute_output_shape(step_shape)[0]
        states0 = [rng.standard_normal(state_shape) for _ in range(2)]
    if is_cell:
        state_shape = layer.compute_output_shape(shape)[0]
        states0 = [rng.standard_normal(state_shape) for _ in range(2)]

    trainable = layer.trainable_variables
    # the seed generator's state (not a weight: absent from get_weights)
    non_trainable = [jnp.asarray(v.value) for v in layer.non_trainable_variables]

    def forward(xv, svs, wvs):
        if is_cell:
            h, (h2, c) = layer.stateless_call(wvs, non_trainable, xv, [svs[0], svs[1]])[0]
            return [h, c]
        kw = {}
        if mask is not None:
            kw["mask"] = jnp.asarray(mask)
        if states0 is not None:
            kw["initial_state"] = list(svs)
        out, _ = layer.stateless_call(wvs, non_trainable, xv, **kw)
        return list(out) if isinstance(out, list | tuple) else [out]

    svs = [jnp.asarray(s) for s in states0] if states0 is not None else []
    wvs = [jnp.asarray(v) for v in weights]
    if extras.get("stateful_second"):
        # Keras eager calls of a stateful layer: the second call starts from the first's states
        layer.reset_state()
        first = np.asarray(layer(x))
        x2 = rng.standard_normal(shape)
        second = np.asarray(layer(x2))
        arrays[f"{name}/x"] = x
        arrays[f"{name}/x2"] = x2
        arrays[f"{name}/out0"] = first
        arrays[f"{name}/second0"] = second
        outs = [first]
        grads = None
    else:
        outs = [np.asarray(o) for o in forward(jnp.asarray(x), svs, wvs)]
        cots = [rng.standard_normal(o.shape) for o in outs]

        def loss(xv, svs, wvs):
            return sum(jnp.sum(o * c) for o, c in zip(forward(xv, svs, wvs), cots))

        gx, gs, gw = jax.grad(loss, argnums=(0, 1, 2))(jnp.asarray(x), svs, wvs)
        arrays[f"{name}/x"] = x
        for k, (o, c) in enumerate(zip(outs, cots)):
            arrays[f"{name}/out{k}"] = o
            arrays[f"{name}/cot{k}"] = c
        arrays[f"{name}/grad_x"] = np.asarray(gx)
        for k, g in enumerate(gs):
            arrays[f"{name}/grad_state{k}"] = np.asarray(g)
        for k, g in enumerate(gw):
            arrays[f"{name}/grad_w{k}"] = np.asarray(g)
        grads = len(gw)
    for k, w in enumerate(weights):
        arrays[f"{name}/w{k}"] = w
    if states0 is not None:
        for k, s in enumerate(states0):
            arrays[f"{name}/state{k}"] = s
    if mask is not None:
        arrays[f"{name}/mask"] = mask
    return {
        "class_name": cls_name,
        "kwargs": _jsonable(kwargs),
        "keras_config": _jsonable(layer.get_config()),
        "input_shape": list(shape),
        "num_outputs": len(outs),
        "num_weights": len(weights),
        "trainable_names": [v.path for v in trainable],
        "has_grads": grads is not None,
        "mask": mask is not None,
        "initial_state": bool(extras.get("initial_state")),
        "stateful_second": bool(extras.get("stateful_second")),
        "cell_states": bool(extras.get("cell_states")),
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20260912)
    arrays, meta = {}, {"keras_version": keras.__version__, "backend": keras.backend.backend(),
                        "jax_version": jax.__version__, "cases": {}}
    for name, (cls_name, kwargs, shape, extras) in CASES.items():
        meta["cases"][name] = make_case(name, cls_name, kwargs, shape, extras, rng, arrays)
        print(name, [arrays[k].shape for k in arrays if k.startswith(name + "/out")])
    np.savez_compressed(OUT / "arrays.npz", **arrays)
    (OUT / "cases.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    print("wrote", OUT, sum(p.stat().st_size for p in OUT.iterdir()), "bytes")


if __name__ == "__main__":
    main()
