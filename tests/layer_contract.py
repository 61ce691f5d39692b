"""A shared layer contract check, in the spirit of Keras's ``run_layer_test``.

:func:`run_layer_test` builds a layer from a factory, calls it and checks, in order:

1. output shapes (and the number of outputs);
2. the number of weights and of trainable weights;
3. ``get_config`` / ``from_config`` gives an equal layer (same config) that, after
   ``set_weights(layer.get_weights())``, computes the same outputs; the
   ``rnnkit.layers.serialize`` / ``deserialize`` round trip does too;
4. a backward pass reaches every trainable weight (a finite, non-zero gradient for each);
5. one SGD step (``rnnkit.optimizers.SGD``) changes every trainable weight and nothing else.

A weightless layer (``expected_num_weights=0``) instead proves in step 4 that a finite,
non-zero gradient reaches every floating-point input (there is nothing to train in step 5).

All numbers are compared in float64 (pass float64 inputs and ``dtype="float64"`` layers).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from rnnkit import optimizers
from rnnkit.layers import deserialize, serialize
from rnnkit.layers.layer import flatten

__all__ = ["run_layer_test"]


def _outputs(layer, inputs, call_kwargs):
    return [o for o in flatten(layer(inputs, **call_kwargs)) if isinstance(o, torch.Tensor)]


def _strip_name(cfg):
    """A config without layer names (a deserialized copy may be renamed in nested sublayers)."""
    if isinstance(cfg, dict):
        return {k: _strip_name(v) for k, v in cfg.items() if k != "name"}
    if isinstance(cfg, list):
        return [_strip_name(v) for v in cfg]
    return cfg


def _assert_same_outputs(a, b, what):
    assert len(a) == len(b), f"{what}: {len(a)} outputs vs {len(b)}"
    for i, (x, y) in enumerate(zip(a, b)):
        assert x.shape == y.shape, f"{what}: output {i} shape {tuple(x.shape)} vs {tuple(y.shape)}"
        np.testing.assert_allclose(
            x.detach().numpy(), y.detach().numpy(), rtol=0, atol=1e-12, err_msg=f"{what}: out {i}"
        )


def _check_input_gradients(layer, inputs, call_kwargs, seed):
    """Weightless layers: a finite, non-zero gradient reaches every float input."""
    leaves = [t for t in flatten(inputs) if isinstance(t, torch.Tensor) and t.is_floating_point()]
    assert leaves, "a weightless layer needs a floating-point input to differentiate"
    copies = {id(t): t.detach().clone().requires_grad_(True) for t in leaves}

    def swap(x):
        if isinstance(x, torch.Tensor) and id(x) in copies:
            c = copies[id(x)]
            if getattr(x, "_keras_mask", None) is not None:
                c._keras_mask = x._keras_mask
            return c
        if isinstance(x, list | tuple):
            return type(x)(swap(v) for v in x)
        return x

    gen = torch.Generator().manual_seed(seed + 2)
    outs = _outputs(layer, swap(inputs), call_kwargs)
    loss = sum((o * torch.randn(o.shape, generator=gen, dtype=o.dtype)).sum() for o in outs)
    assert torch.is_tensor(loss) and loss.requires_grad, "no gradient reached input 0 (or any)"
    grads = torch.autograd.grad(loss, list(copies.values()), allow_unused=True)
    for i, g in enumerate(grads):
        assert g is not None, f"no gradient reached input {i}"
        assert torch.isfinite(g).all(), f"non-finite gradient for input {i}"
        assert g.abs().sum() > 0, f"zero gradient for input {i}"


def run_layer_test(
    factory,
    inputs,
    expected_output_shapes,
    expected_num_weights,
    expected_num_trainable_weights=None,
    call_kwargs=None,
    custom_objects=None,
    seed=0,
):
    """Check ``factory()``'s layer against the Keras layer contract; return the built layer.

    Args:
        factory: zero-argument callable returning a fresh, unbuilt layer.
        inputs: what the layer is called on (a tensor or a tuple of tensors).
        expected_output_shapes: list of shapes, one per (flattened) output.
        expected_num_weights: ``len(layer.weights)`` after the first call.
        expected_num_trainable_weights: ``len(layer.trainable_weights)`` (default: all).
        call_kwargs: extra keyword arguments of every call (e.g. ``mask``).
        custom_objects: for deserializing custom layers / cells.
    """
    call_kwargs = dict(call_kwargs or {})
    torch.manual_seed(seed)
    layer = factory()
    outs = _outputs(layer, inputs, call_kwargs)

    # 1. output shapes
    got = [tuple(o.shape) for o in outs]
    want = [tuple(s) for s in expected_output_shapes]
    assert got == want, f"output shapes {got}, expected {want}"

    # 2. weights
    assert len(layer.weights) == expected_num_weights, [tuple(w.shape) for w in layer.weights]
    n_train = expected_num_weights if expected_num_trainable_weights is None else (
        expected_num_trainable_weights
    )
    assert len(layer.trainable_weights) == n_train
    assert [w.shape for w in layer.get_weights()] == [tuple(w.shape) for w in layer.weights]

    # 3. config round trips: an equal layer computing the same outputs with the same weights
    cfg = layer.get_config()
    kwargs = {"custom_objects": custom_objects} if custom_objects else {}
    try:
        clone = type(layer).from_config(copy.deepcopy(cfg), **kwargs)
    except TypeError:
        clone = type(layer).from_config(copy.deepcopy(cfg))
    assert type(clone) is type(layer)
    assert _strip_name(clone.get_config()) == _strip_name(cfg)
    torch.manual_seed(seed + 1)  # a different draw: only set_weights can make them agree
    _outputs(clone, inputs, call_kwargs)
    clone.set_weights(layer.get_weights())
    _assert_same_outputs(outs, _outputs(clone, inputs, call_kwargs), "from_config clone")

    rebuilt = deserialize(serialize(layer), custom_objects=custom_objects)
    assert type(rebuilt) is type(layer)
    if not rebuilt.built:
        _outputs(rebuilt, inputs, call_kwargs)
    rebuilt.set_weights(layer.get_weights())
    _assert_same_outputs(outs, _outputs(rebuilt, inputs, call_kwargs), "deserialized copy")

    if expected_num_weights == 0:
        _check_input_gradients(layer, inputs, call_kwargs, seed)
        return layer

    # 4. backward pass reaches every trainable weight
    trainable = layer.trainable_weights
    assert trainable, "the layer has no trainable weights"
    gen = torch.Generator().manual_seed(seed + 2)
    outs = _outputs(layer, inputs, call_kwargs)
    loss = sum((o * torch.randn(o.shape, generator=gen, dtype=o.dtype)).sum() for o in outs)
    grads = torch.autograd.grad(loss, trainable, allow_unused=True)
    for w, g in zip(trainable, grads):
        name = getattr(w, "_rnnkit_name", "?")
        assert g is not None, f"no gradient reached weight {name} {tuple(w.shape)}"
        assert torch.isfinite(g).all(), f"non-finite gradient for {name}"
        assert g.abs().sum() > 0, f"zero gradient for weight {name} {tuple(w.shape)}"

    # 5. one SGD step changes the trainable weights (and only those)
    before = [w.detach().clone() for w in layer.weights]
    opt = optimizers.SGD(learning_rate=0.1)
    opt.apply_gradients(list(zip(grads, trainable)))
    train_ids = {id(w) for w in trainable}
    for w, b in zip(layer.weights, before):
        changed = not torch.equal(w.detach(), b)
        assert changed == (id(w) in train_ids), (getattr(w, "_rnnkit_name", "?"), changed)
    return layer
