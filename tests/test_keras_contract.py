"""Keras's layer contract beyond the numbers, checked against real Keras 3.15 where it can answer.

Config capture for custom layers (issue 8, item 3); compute_output_shape, stacked cells' per-cell
states, seed= / SeedGenerator, the Variable API on weights, layers.Wrapper, TimeDistributed mask
checks and Masking on numpy (item 4).
"""

from __future__ import annotations

import copy

import keras
import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers as L
from rnnkit.models import clone_model
from rnnkit.random import SeedGenerator
from rnnkit.saving import register_keras_serializable
from rnnkit.variables import Variable

B, T, F = 2, 5, 3


def x_np(seed=0, shape=(B, T, F)):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


# ---------------------------------------------------------------------------------------------
# item 3: config capture
# ---------------------------------------------------------------------------------------------
class ScaledCell(L.Layer):
    """A custom cell with constructor arguments and no get_config."""

    def __init__(self, units, scale=1.0, activation="tanh", extra=(1, 2), **kwargs):
        super().__init__(**kwargs)
        self.units, self.scale, self.activation_name = units, scale, activation
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

    def call(self, inputs, states):
        h = torch.tanh(self.scale * (inputs @ self.kernel + states[0] @ self.recurrent_kernel))
        return h, [h]


def test_auto_config_records_plain_constructor_arguments():
    cell = ScaledCell(4, scale=0.5, name="sc")
    cfg = cell.get_config()
    assert {k: cfg[k] for k in ("units", "scale", "activation", "extra", "name")} == {
        "units": 4, "scale": 0.5, "activation": "tanh", "extra": (1, 2), "name": "sc"}
    again = ScaledCell.from_config(cfg)
    assert (again.units, again.scale, again.name) == (4, 0.5, "sc")


def test_auto_config_matches_keras():
    # The same class written for Keras 3 records the same constructor arguments.
    class KScaled(keras.layers.Layer):
        def __init__(self, units, scale=1.0, activation="tanh", extra=(1, 2), **kwargs):
            super().__init__(**kwargs)
            self.units = units

    ours = ScaledCell(4, scale=0.5, name="a").get_config()
    theirs = KScaled(4, scale=0.5, name="a").get_config()
    for cfg in (ours, theirs):
        cfg.pop("dtype")
    assert ours == theirs


def test_custom_cell_round_trips_from_config_and_clone():
    rnn = L.RNN(ScaledCell(3, scale=0.7), return_sequences=True)
    x = torch.as_tensor(x_np())
    y = rnn(x)
    twin = L.RNN.from_config(rnn.get_config())
    assert isinstance(twin.cell, ScaledCell) and twin.cell.scale == 0.7
    twin(x)
    twin.set_weights(rnn.get_weights())
    torch.testing.assert_close(twin(x), y)

    model = rnnkit.Sequential([rnnkit.Input(shape=(T, F)), L.RNN(ScaledCell(3, scale=0.7))])
    clone = clone_model(model)
    assert clone is not model and isinstance(clone.layers[-1].cell, ScaledCell)
    assert clone.layers[-1].cell.scale == 0.7
    assert not all(np.array_equal(a, b) for a, b in zip(clone.get_weights(), model.get_weights()))
    clone.set_weights(model.get_weights())
    torch.testing.assert_close(clone(x), model(x))


@register_keras_serializable(package="contract_test")
class RegisteredScaledCell(ScaledCell):
    pass


@pytest.mark.parametrize("ext", ["rnnkit", "keras"])
def test_registered_custom_cell_without_get_config_saves_and_loads(tmp_path, ext):
    model = rnnkit.Sequential([rnnkit.Input(shape=(T, F)), L.RNN(RegisteredScaledCell(3, scale=0.3))])
    x = x_np(1)
    path = tmp_path / f"m.{ext}"
    model.save(str(path))
    loaded = rnnkit.models.load_model(str(path))
    assert loaded.layers[-1].cell.scale == 0.3
    np.testing.assert_allclose(
        loaded(torch.as_tensor(x)).detach().numpy(), model(torch.as_tensor(x)).detach().numpy(), atol=1e-6
    )


def test_unregistered_custom_cell_from_a_file_still_needs_registration(tmp_path):
    model = rnnkit.Sequential([rnnkit.Input(shape=(T, F)), L.RNN(ScaledCell(3))])
    model.save(str(tmp_path / "m.rnnkit"))
    with pytest.raises(ValueError, match="ScaledCell.*(custom_objects|register_keras_serializable)"):
        rnnkit.models.load_model(str(tmp_path / "m.rnnkit"))
    loaded = rnnkit.models.load_model(str(tmp_path / "m.rnnkit"), custom_objects={"ScaledCell": ScaledCell})
    assert isinstance(loaded.layers[-1].cell, ScaledCell)


def test_non_plain_constructor_arguments_need_get_config():
    class Holder(L.Layer):
        def __init__(self, inner, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner

        def call(self, x):
            return self.inner(x)

    with pytest.raises(NotImplementedError, match="Holder.*not plain values.*define get_config"):
        Holder(L.Dense(2)).get_config()


def test_layers_with_their_own_get_config_are_unchanged():
    cfg = L.LSTM(3, name="x").get_config()
    assert cfg["units"] == 3 and "cell" not in cfg
    assert L.Dense(2, name="d").get_config() == rnnkit.layers.Dense.from_config(L.Dense(2, name="d").get_config()).get_config()


# ---------------------------------------------------------------------------------------------
# item 4: compute_output_shape / compute_output_spec, against Keras
# ---------------------------------------------------------------------------------------------
def _keras_and_ours(kind, **kw):
    k, r = keras.layers, L
    if kind == "stacked":  # (single-state cells in a stack: see test_stacked_single_state_cell_shapes)
        return (k.RNN([k.LSTMCell(3), k.LSTMCell(2)], **kw), r.RNN([r.LSTMCell(3), r.LSTMCell(2)], **kw))
    if kind == "bidi":
        merge = kw.pop("merge_mode", "concat")
        return (k.Bidirectional(k.LSTM(3, **kw), merge_mode=merge),
                r.Bidirectional(r.LSTM(3, **kw), merge_mode=merge))
    return getattr(k, kind)(3, **kw), getattr(r, kind)(3, **kw)


def _as_lists(s):
    if isinstance(s, list | tuple) and s and not all(isinstance(d, int | type(None)) for d in s):
        return [_as_lists(v) for v in s]
    return tuple(s)


CASES = [
    (kind, dict(return_sequences=rs, return_state=st))
    for kind in ("SimpleRNN", "LSTM", "GRU", "stacked", "bidi")
    for rs in (False, True)
    for st in (False, True)
] + [("bidi", dict(return_state=True, merge_mode=None)), ("bidi", dict(return_sequences=True, merge_mode="sum"))]


@pytest.mark.parametrize("kind,kw", CASES, ids=[f"{k}-{sorted(v.items())}" for k, v in CASES])
@pytest.mark.parametrize("shape", [(B, T, F), (None, None, F)])
def test_compute_output_shape_matches_keras(kind, kw, shape):
    theirs, ours = _keras_and_ours(kind, **dict(kw))
    assert _as_lists(ours.compute_output_shape(shape)) == _as_lists(theirs.compute_output_shape(shape))


@pytest.mark.parametrize("kind,kw", CASES, ids=[f"{k}-{sorted(v.items())}" for k, v in CASES])
def test_compute_output_shape_matches_the_call(kind, kw):
    _, ours = _keras_and_ours(kind, **dict(kw))
    out = ours(torch.as_tensor(x_np()))
    shapes = ours.compute_output_shape((B, T, F))

    def leaves(o):
        if isinstance(o, torch.Tensor):
            return [tuple(o.shape)]
        if isinstance(o, list | tuple) and o and isinstance(o[0], int):
            return [tuple(o)]
        return [s for v in o for s in leaves(v)]

    assert leaves(out) == leaves(shapes)


def test_stacked_single_state_cell_shapes():
    # Keras 3.15 disagrees with itself here: RNN([SimpleRNNCell, LSTMCell], return_state=True)
    # returns the SimpleRNNCell's state as a one-element list when called, but its
    # compute_output_shape reports a bare shape. rnnkit's compute_output_shape describes what the
    # call returns (Keras's eager structure).
    x = x_np()
    theirs = keras.layers.RNN([keras.layers.SimpleRNNCell(3), keras.layers.LSTMCell(2)], return_state=True)
    ours = L.RNN([L.SimpleRNNCell(3), L.LSTMCell(2)], return_state=True)
    eager = _structure(list(theirs(x)))
    assert eager == [(B, 2), [(B, 3)], [(B, 2), (B, 2)]]
    assert _as_lists(theirs.compute_output_shape((B, T, F))) == [(B, 2), (B, 3), [(B, 2), (B, 2)]]
    assert _as_lists(ours.compute_output_shape((B, T, F))) == eager == _structure(ours(torch.as_tensor(x)))


def test_time_distributed_and_cell_level_shapes():
    assert L.TimeDistributed(L.Dense(3)).compute_output_shape((B, T, 4)) == (B, T, 3)
    td = L.TimeDistributed(L.Dense(3))
    assert keras.layers.TimeDistributed(keras.layers.Dense(3)).compute_output_shape((B, T, 4)) == (B, T, 3)
    assert tuple(td(torch.zeros(B, T, 4)).shape) == (B, T, 3)


def test_compute_output_spec_is_symbolic():
    spec = L.LSTM(4, return_state=True).compute_output_spec(rnnkit.Input(shape=(T, F)))
    assert [tuple(s.shape) for s in spec] == [(None, 4)] * 3
    assert all(s.dtype == "float32" for s in spec)


# ---------------------------------------------------------------------------------------------
# item 4: stacked cells' states per cell, as Keras
# ---------------------------------------------------------------------------------------------
def _copy_keras_weights(theirs, ours):
    ours.set_weights([w.detach().cpu().numpy() if hasattr(w, "detach") else np.asarray(w) for w in theirs.get_weights()])


def _structure(o):
    if isinstance(o, list | tuple):
        return [_structure(v) for v in o]
    return tuple(o.shape)


def test_stacked_states_structure_and_values_match_keras():
    x = x_np(3)
    theirs = keras.layers.RNN(
        [keras.layers.SimpleRNNCell(3), keras.layers.LSTMCell(2), keras.layers.GRUCell(4)], return_state=True
    )
    ours = L.RNN([L.SimpleRNNCell(3), L.LSTMCell(2), L.GRUCell(4)], return_state=True)
    k_out = theirs(x)
    ours(torch.as_tensor(x))
    _copy_keras_weights(theirs, ours)
    r_out = ours(torch.as_tensor(x))
    assert _structure(r_out) == _structure(list(k_out)) == [(B, 4), [(B, 3)], [(B, 2), (B, 2)], [(B, 4)]]

    def flat(o):
        return [v for e in o for v in (flat(e) if isinstance(e, list | tuple) else [e])]

    for a, b in zip(flat(r_out), flat(list(k_out))):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().cpu().numpy(), atol=1e-5)
    # accepted back per cell (Keras's form), and flat (rnnkit keeps that too)
    init = [torch.ones(B, 3), [torch.ones(B, 2), torch.zeros(B, 2)], [torch.ones(B, 4)]]
    per_cell = ours(torch.as_tensor(x), initial_state=init)
    k_per_cell = theirs(x, initial_state=[s if not isinstance(s, list) else list(s) for s in init])
    for a, b in zip(flat(per_cell), flat(list(k_per_cell))):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().cpu().numpy(), atol=1e-5)
    flat_init = ours(torch.as_tensor(x), initial_state=flat(init))
    for a, b in zip(flat(per_cell), flat(flat_init)):
        torch.testing.assert_close(a, b)


def test_stacked_two_lstm_cells_return_out_then_one_list_per_cell():
    out, s1, s2 = L.RNN([L.LSTMCell(4), L.LSTMCell(5)], return_state=True)(torch.as_tensor(x_np()))
    assert [tuple(t.shape) for t in s1] == [(B, 4), (B, 4)] and [tuple(t.shape) for t in s2] == [(B, 5), (B, 5)]
    torch.testing.assert_close(out, s2[0])


def test_stacked_stateful_states_are_per_cell():
    layer = L.RNN([L.SimpleRNNCell(3), L.LSTMCell(2)], stateful=True)
    layer(torch.as_tensor(x_np()))
    assert _structure(layer.states) == [[(B, 3)], [(B, 2), (B, 2)]]


def test_bidirectional_stacked_return_state_matches_keras_structure():
    theirs = keras.layers.Bidirectional(
        keras.layers.RNN([keras.layers.LSTMCell(2), keras.layers.GRUCell(3)], return_state=True))
    ours = L.Bidirectional(L.RNN([L.LSTMCell(2), L.GRUCell(3)], return_state=True))
    assert _structure(ours(torch.as_tensor(x_np()))) == _structure(list(theirs(x_np())))


# ---------------------------------------------------------------------------------------------
# item 4: seed= and SeedGenerator
# ---------------------------------------------------------------------------------------------
def _pair(factory):
    a, b = factory(), factory()
    x = torch.as_tensor(x_np())
    a(x)
    b(x)
    b.set_weights(a.get_weights())
    return a, b, x


@pytest.mark.parametrize(
    "factory",
    [
        lambda: L.LSTM(4, dropout=0.5, recurrent_dropout=0.3, seed=1, return_sequences=True),
        lambda: L.GRU(4, dropout=0.5, seed=2, return_sequences=True),
        lambda: L.SimpleRNN(4, recurrent_dropout=0.5, seed=3, return_sequences=True),
        lambda: L.RNN([L.LSTMCell(3, dropout=0.4, seed=4), L.GRUCell(2, recurrent_dropout=0.4, seed=5)]),
        lambda: L.Bidirectional(L.LSTM(3, dropout=0.5, seed=6, return_sequences=True)),
        lambda: L.Dropout(0.5, seed=7),
        lambda: L.Dropout(0.5, noise_shape=(None, 1, None), seed=8),
        lambda: L.GaussianNoise(0.5, seed=9),
        lambda: L.GaussianDropout(0.5, seed=10),
        lambda: L.SpatialDropout1D(0.5, seed=11),
    ],
)
def test_same_seed_and_weights_give_the_same_training_outputs(factory):
    a, b, x = _pair(factory)
    first = [a(x, training=True) for _ in range(3)]
    second = [b(x, training=True) for _ in range(3)]
    for u, v in zip(first, second):
        torch.testing.assert_close(u, v, rtol=0, atol=0)
    assert not torch.equal(first[0], first[1])  # masks change from call to call
    torch.testing.assert_close(a(x), a(x))  # inference: no dropout


def test_different_seeds_give_different_masks():
    a = L.LSTM(4, dropout=0.5, seed=1)
    b = L.LSTM(4, dropout=0.5, seed=2)
    x = torch.as_tensor(x_np())
    a(x)
    b(x)
    b.set_weights(a.get_weights())
    assert not torch.equal(a(x, training=True), b(x, training=True))


def test_unseeded_dropout_follows_torch_manual_seed():
    layer = L.LSTM(4, dropout=0.5)
    x = torch.as_tensor(x_np())
    layer(x)  # build first (weight initialisation draws from the same generator)
    torch.manual_seed(0)
    a = layer(x, training=True)
    torch.manual_seed(0)
    torch.testing.assert_close(layer(x, training=True), a, rtol=0, atol=0)


def test_seed_generator_semantics():
    g = SeedGenerator(5)
    assert g.state.tolist() == [5, 0]
    assert g.next().tolist() == [5, 0] and g.state.tolist() == [5, 1]
    a, b = SeedGenerator(9), SeedGenerator(9)
    assert torch.equal(rnnkit.random.normal((4,), seed=a), rnnkit.random.normal((4,), seed=b))
    assert torch.equal(rnnkit.random.uniform((3,), seed=11), rnnkit.random.uniform((3,), seed=11))
    with pytest.raises(ValueError, match="seed must be an integer"):
        SeedGenerator("x")
    d = rnnkit.random.dropout(torch.ones(1000), 0.25, seed=SeedGenerator(1))
    assert set(d.unique().tolist()) == {0.0, float(np.float32(1 / 0.75))} and 0.15 < (d == 0).float().mean() < 0.35


@pytest.mark.parametrize(
    "pair",
    [
        (lambda k: k.LSTM(3, dropout=0.2, seed=1)),
        (lambda k: k.LSTM(3)),
        (lambda k: k.GRU(3, dropout=0.1)),
        (lambda k: k.SimpleRNN(3)),
        (lambda k: k.Dropout(0.1)),
        (lambda k: k.Dropout(0.1, seed=3)),
        (lambda k: k.RNN(k.LSTMCell(2))),
        (lambda k: k.RNN([k.LSTMCell(3, dropout=0.1), k.GRUCell(2)])),
        (lambda k: k.Bidirectional(k.GRU(2, seed=3))),
        (lambda k: k.TimeDistributed(k.Dense(2))),
        (lambda k: k.GaussianNoise(0.1, seed=1)),
        (lambda k: k.GaussianDropout(0.1)),
        (lambda k: k.SpatialDropout1D(0.1, seed=2)),
    ],
)
def test_variable_counts_match_keras(pair):
    theirs, ours = pair(keras.layers), pair(L)
    theirs.build((None, T, F))
    ours.build((None, T, F))
    for attr in ("weights", "trainable_weights", "non_trainable_weights", "variables",
                 "trainable_variables", "non_trainable_variables"):
        assert len(getattr(ours, attr)) == len(getattr(theirs, attr)), attr


def test_attention_layers_count_their_seed_state_as_keras():
    q = np.zeros((B, T, F), "float32")
    for make, listed in ((lambda k: k.Attention(dropout=0.1), True),
                         (lambda k: k.MultiHeadAttention(2, 3, dropout=0.1), False)):
        theirs, ours = make(keras.layers), make(L)
        t = torch.as_tensor(q)
        if listed:
            theirs([q, q])
            ours([t, t])
        else:
            theirs(q, q)
            ours(t, t)
        assert len(ours.non_trainable_variables) == len(theirs.non_trainable_variables) == 1
        assert len(ours.weights) == len(theirs.weights)


def test_variable_paths_match_keras():
    def paths(layer):
        return [getattr(v, "path", "seed") for v in layer.variables]

    for make in (
        lambda k: k.LSTM(3, name="enc"),
        lambda k: k.Bidirectional(k.LSTM(3, name="enc"), name="bi"),
        lambda k: k.RNN(k.StackedRNNCells([k.LSTMCell(3, name="c1"), k.GRUCell(2, name="c2")], name="cells"),
                        name="st"),
        lambda k: k.TimeDistributed(k.Dense(3, name="d2"), name="td"),
    ):
        theirs, ours = make(keras.layers), make(L)
        theirs.build((None, T, F))
        ours.build((None, T, F))
        k_paths = ["seed" if v.path.endswith("seed_generator_state") else v.path for v in theirs.variables]
        assert paths(ours) == k_paths


# ---------------------------------------------------------------------------------------------
# item 4: weights answer Keras's Variable API and stay torch Parameters
# ---------------------------------------------------------------------------------------------
def test_weights_are_parameters_with_keras_variable_api():
    layer = L.LSTM(3, name="enc")
    layer.build((None, T, F))
    k = layer.weights[0]
    assert isinstance(k, Variable) and isinstance(k, torch.nn.Parameter)
    assert k.path == "enc/lstm_cell/kernel" and k.trainable
    k.assign(np.ones((F, 12), "float32"))
    assert np.array_equal(k.numpy(), np.ones((F, 12)))
    k.assign_add(torch.ones(F, 12))
    k.assign_sub(0.5)
    assert np.array_equal(k.numpy(), np.full((F, 12), 1.5)) and k.value is k
    assert np.asarray(k).shape == (F, 12)
    with pytest.raises(ValueError, match=r"enc/lstm_cell/kernel.*\(3, 12\).*\(2, 2\)"):
        k.assign(np.zeros((2, 2)))
    k.trainable = False
    assert not k.requires_grad and len(layer.trainable_weights) == 2 and len(layer.non_trainable_weights) == 1


def test_variables_work_with_torch_machinery(fused_spy):
    layer = L.LSTM(3, return_sequences=True)
    x = torch.as_tensor(x_np())
    layer(x)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    before = layer.get_weights()
    layer(x).sum().backward()
    opt.step()
    assert all(not np.array_equal(a, b) for a, b in zip(before, layer.get_weights()))
    assert "lstm" in fused_spy.calls  # the fused kernel ran on the Variables
    twin = copy.deepcopy(layer)
    assert all(isinstance(w, Variable) and w.path == v.path for w, v in zip(twin.weights, layer.weights))
    torch.testing.assert_close(twin(x), layer(x))
    layer.to(torch.float64)
    assert all(isinstance(w, Variable) and w.dtype == torch.float64 for w in layer.weights)
    sd = twin.state_dict()
    fresh = L.LSTM(3, return_sequences=True)
    fresh(x)
    fresh.load_state_dict(sd)
    torch.testing.assert_close(fresh(x), twin(x))
    assert not any("seed" in k for k in sd)  # seed state stays out of state_dict


def test_keras_assign_pattern_copies_weights_between_layers():
    # bidirectional_test.test_fused_*: ``for rv, fv in zip(ref.weights, fused.weights): fv.assign(rv.value)``
    ref, other = L.Bidirectional(L.GRU(4)), L.Bidirectional(L.GRU(4))
    ref.build((None, T, F))
    other.build((None, T, F))
    for rv, fv in zip(ref.weights, other.weights):
        fv.assign(rv.value)
    x = torch.as_tensor(x_np())
    torch.testing.assert_close(ref(x), other(x))


# ---------------------------------------------------------------------------------------------
# item 4: Wrapper, TimeDistributed masks, Masking on numpy, bool inputs
# ---------------------------------------------------------------------------------------------
def test_wrapper_base_class():
    assert issubclass(L.Bidirectional, L.Wrapper) and issubclass(L.TimeDistributed, L.Wrapper)

    class Twice(L.Wrapper):
        def call(self, x):
            return self.layer(self.layer(x))

    w = Twice(L.Dense(3, kernel_initializer="ones", use_bias=False))
    assert w(torch.ones(1, 3)).tolist() == [[9.0, 9.0, 9.0]]
    back = Twice.from_config(w.get_config())
    assert isinstance(back.layer, L.Dense) and back.layer.units == 3
    with pytest.raises(ValueError, match="Twice expects a layer"):
        Twice("dense")


@pytest.mark.parametrize("shape", [(B + 1, T), (B, T + 1), (B,), (B, T + 1, 2)])
def test_time_distributed_refuses_wrong_masks(shape):
    td = L.TimeDistributed(L.Dense(2))
    with pytest.raises(ValueError, match=rf"TimeDistributed.*{tuple(shape)}.*\({B}, {T}\)"):
        td(np.zeros((B, T, F), "float32"), mask=np.ones(shape, bool))


def test_time_distributed_passes_the_mask_to_a_masking_layer():
    seen = {}

    class Probe(L.Layer):
        def call(self, x, mask=None):
            seen["mask"] = mask
            return x

    mask = np.array([[True, False, True, True, False], [False] * 5])
    L.TimeDistributed(Probe())(np.zeros((B, T, F), "float32"), mask=mask)
    assert seen["mask"].tolist() == mask.reshape(-1).tolist()


def test_masking_compute_mask_on_numpy():
    x = np.array([[[0.0, 0.0], [1.0, 2.0]], [[2.0, 2.0], [0.0, 0.0]]])
    assert L.Masking(0.0).compute_mask(x).tolist() == [[False, True], [True, False]]
    assert L.Masking(0.0).built  # stateless: built at construction, as Keras


def test_one_hot_bool_inputs_like_keras():
    x = np.eye(F, dtype=bool)[np.random.default_rng(0).integers(0, F, (B, T))]
    theirs, ours = keras.layers.LSTM(4), L.LSTM(4)
    theirs(x.astype("float32"))
    ours(x)
    _copy_keras_weights(theirs, ours)
    np.testing.assert_allclose(
        ours(x).detach().numpy(), theirs(x).detach().cpu().numpy(), atol=1e-6
    )
