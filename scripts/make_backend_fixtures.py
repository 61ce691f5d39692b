"""Reference numbers of the Keras 2 backend (``tf_keras.backend``, TF 2.21) for tests/test_backend.py.

Run in a separate environment with TensorFlow (rnnkit's own needs none):

    python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu==2.21.0 tf_keras==2.21.0
    /tmp/tfenv/bin/python scripts/make_backend_fixtures.py tests/fixtures/backend_tf_keras

It writes ``<out>.npz`` (each case's array arguments and results) and ``<out>.json`` (each case:
the function, its arguments, with ``{"array": key}`` for arrays, and its results' keys). The
``rnn`` cases run the step functions defined in ``STEPS`` below; the test defines the same ones.
"""

from __future__ import annotations

import json
import sys

import numpy as np

rng = np.random.default_rng(0)
A = rng.normal(size=(3, 4)).astype("float32")
B = rng.normal(size=(4, 5)).astype("float32")
C = rng.normal(size=(2, 3, 4)).astype("float32")
D = rng.normal(size=(2, 4, 5)).astype("float32")
E = rng.normal(size=(2, 5, 4)).astype("float32")
V = rng.normal(size=(4,)).astype("float32")
X = rng.normal(size=(2, 6, 3)).astype("float32")  # (batch, time, features) for rnn
W = rng.normal(size=(3, 4)).astype("float32") * 0.5
U = rng.normal(size=(4, 4)).astype("float32") * 0.5
H0 = np.zeros((2, 4), "float32")
MASK = np.array([[1, 1, 1, 1, 0, 0], [1, 0, 1, 1, 1, 1]], bool)
INTS = rng.integers(-3, 5, size=(3, 4)).astype("int32")

CASES = [
    ("dot", [A, B], {}), ("dot", [C, B], {}), ("dot", [C, D], {}),
    ("batch_dot", [C, D], {}), ("batch_dot", [C, E], {"axes": (2, 2)}), ("batch_dot", [A, A], {}),
    ("batch_dot", [A, A], {"axes": 1}), ("batch_dot", [C, A[:2]], {"axes": (2, 1)}),
    ("bias_add", [C, V], {}), ("concatenate", [[A, A]], {}), ("concatenate", [[A, A]], {"axis": 0}),
    ("stack", [[A, A]], {}), ("reshape", [C, (2, 12)], {}), ("permute_dimensions", [C, (2, 0, 1)], {}),
    ("transpose", [C], {}), ("expand_dims", [A], {}), ("expand_dims", [A, 0], {}),
    ("squeeze", [A[None], 0], {}), ("flatten", [C], {}), ("batch_flatten", [C], {}),
    ("repeat_elements", [A, 2, 1], {}), ("repeat", [A, 3], {}), ("tile", [A, (2, 1)], {}),
    ("gather", [A, np.array([2, 0], "int32")], {}), ("one_hot", [np.array([[0, 2], [1, 3]], "int32"), 4], {}),
    ("sum", [A], {}), ("sum", [C], {"axis": 1, "keepdims": True}), ("mean", [C], {"axis": -1}),
    ("max", [A], {"axis": 0}), ("min", [C], {}), ("prod", [A], {"axis": 1}), ("std", [A], {"axis": 0}),
    ("var", [C], {"axis": (0, 2)}),
    ("argmax", [A], {}), ("argmin", [C], {"axis": 1}), ("cumsum", [A], {}), ("cumprod", [A], {"axis": 1}),
    ("square", [A], {}), ("sqrt", [A], {}), ("pow", [A, 2], {}), ("clip", [A, -0.5, 0.5], {}),
    ("clip", [A, 0.5, -0.5], {}), ("hard_sigmoid", [A * 4], {}), ("relu", [A], {}),
    ("relu", [A], {"alpha": 0.1}), ("relu", [A * 3], {"max_value": 1.0}), ("relu", [A], {"threshold": 0.5}),
    ("elu", [A], {}), ("softmax", [C], {}), ("softmax", [C], {"axis": 1}), ("abs", [A], {}), ("exp", [A], {}),
    ("log", [np.abs(A) + 0.1], {}), ("sign", [A], {}), ("round", [A * 3], {}), ("cos", [A], {}),
    ("sin", [A], {}), ("sigmoid", [A], {}), ("tanh", [A], {}), ("softplus", [A], {}), ("softsign", [A], {}),
    ("maximum", [A, A[0]], {}), ("minimum", [A, 0.0], {}), ("equal", [INTS, 0], {}),
    ("greater", [A, 0.1], {}), ("less_equal", [INTS, 1], {}), ("l2_normalize", [A], {"axis": 1}),
    ("l2_normalize", [A], {}), ("switch", [A > 0, A, -A], {}),
    ("categorical_crossentropy", [np.eye(4, dtype="float32")[[0, 1, 3]], np.abs(A) + 0.05], {}),
    ("categorical_crossentropy", [np.eye(4, dtype="float32")[[0, 1, 3]], A], {"from_logits": True}),
    ("sparse_categorical_crossentropy", [np.array([0, 3, 1], "int32"), A], {"from_logits": True}),
    ("binary_crossentropy", [(A > 0).astype("float32"), 1 / (1 + np.exp(-A))], {}),
    ("arange", [5], {}), ("arange", [1, 7, 2], {}), ("zeros", [(2, 3)], {}), ("ones", [(2,)], {}),
    ("eye", [3], {}), ("zeros_like", [A], {}), ("ones_like", [INTS], {}), ("cast", [A, "int32"], {}),
    ("int_shape", [C], {}), ("ndim", [C], {}), ("count_params", [C], {}), ("dtype", [INTS], {}),
]


def _simple_step(K):
    def step(x, states):
        h = K.tanh(K.dot(x, K.constant(W)) + K.dot(states[0], K.constant(U)))
        return h, [h]

    return step


def _step_with_constant(K):
    def step(x, states):
        h_prev, c = states[0], states[1]
        h = K.tanh(K.dot(x, K.constant(W)) + K.dot(h_prev, K.constant(U)) + c)
        return h * 2.0, [h]

    return step


STEPS = {"simple": _simple_step, "constant": _step_with_constant}
RNN_CASES = [
    ("simple", {}), ("simple", {"go_backwards": True}), ("simple", {"mask": MASK}),
    ("simple", {"mask": MASK, "zero_output_for_mask": True}), ("simple", {"mask": MASK, "go_backwards": True}),
    ("constant", {"constants": [np.full((2, 4), 0.3, "float32")]}),
]


def main(out):
    import tensorflow as tf
    from tf_keras import backend as K

    arrays, meta = {}, []

    def enc(v, key):
        if isinstance(v, np.ndarray):
            arrays[key] = v
            return {"array": key}
        if isinstance(v, list):
            return [enc(e, f"{key}_{j}") for j, e in enumerate(v)]
        if isinstance(v, tuple):
            return {"tuple": [enc(e, f"{key}_{j}") for j, e in enumerate(v)]}
        return v.item() if isinstance(v, np.generic) else v

    def store(res, key):
        if isinstance(res, list | tuple):
            return [store(r, f"{key}_{j}") for j, r in enumerate(res)]
        if isinstance(res, int | float | str) and not hasattr(res, "numpy"):
            return {"value": res}
        a = np.asarray(res.numpy() if hasattr(res, "numpy") else res)
        arrays[key] = a
        return {"array": key}

    for i, (name, args, kwargs) in enumerate(CASES):
        tf_args = [tf.constant(a) if isinstance(a, np.ndarray) else
                   ([tf.constant(e) for e in a] if isinstance(a, list) else a) for a in args]
        try:
            res = getattr(K, name)(*tf_args, **kwargs)
        except Exception as e:  # noqa: BLE001  (a case Keras 2 itself refuses: said, not stored)
            print(f"case {i} {name}: tf_keras raised {type(e).__name__}; left out")
            continue
        if name == "int_shape":
            res = list(res)
        meta.append({"fn": name, "args": enc(list(args), f"c{i}_a"), "kwargs": {k: enc(v, f"c{i}_k{k}") for k, v in kwargs.items()},
                     "out": store(res, f"c{i}_out")})
    for i, (step, kwargs) in enumerate(RNN_CASES):
        kw = {k: (tf.constant(v) if isinstance(v, np.ndarray) else [tf.constant(e) for e in v] if isinstance(v, list) else v)
              for k, v in kwargs.items()}
        last, outputs, states = K.rnn(STEPS[step](K), tf.constant(X), [tf.constant(H0)], **kw)
        meta.append({"fn": "rnn", "step": step, "kwargs": {k: enc(v, f"r{i}_k{k}") for k, v in kwargs.items()},
                     "out": [store(last, f"r{i}_last"), store(outputs, f"r{i}_outputs"), store(states, f"r{i}_states")]})
    arrays.update({"X": X, "W": W, "U": U, "H0": H0})
    np.savez(out + ".npz", **arrays)
    with open(out + ".json", "w") as f:
        json.dump({"source": f"tf_keras {__import__('tf_keras').__version__}, tensorflow {tf.__version__}",
                   "cases": meta}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/backend_tf_keras")
