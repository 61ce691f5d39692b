"""Attention layers with Keras 3's arguments, weights and masks.

``Attention`` (Luong dot-product) and ``AdditiveAttention`` (Bahdanau) take ``[query, value]`` or
``[query, value, key]``; ``MultiHeadAttention`` takes ``query, value, key=None``. Masks follow
Keras: a value (key) mask hides source steps, a query mask zeroes (``Attention``) or marks
(``MultiHeadAttention``) target steps and is passed on as the output's Keras mask;
``use_causal_mask`` lets target step ``i`` see source steps ``<= i``. Masks come from the inputs'
Keras masks (``Embedding(mask_zero=True)``, ``Masking``) or from the ``mask`` /
``*_mask`` arguments.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from rnnkit import constraints, initializers, regularizers
from rnnkit.layers.core import serialize_or_none
from rnnkit.layers.layer import Layer, to_tensor
from rnnkit.layers.noise import _generator
from rnnkit.random import SeedGenerator

__all__ = ["AdditiveAttention", "Attention", "MultiHeadAttention"]


def _dropout(layer, x, rate):
    keep = torch.bernoulli(torch.full_like(x, 1.0 - rate), generator=_generator(layer, x.device))
    return x * keep / (1.0 - rate)


def _check_rate(layer: str, rate) -> float:
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
        raise ValueError(f"{layer}: dropout must be a float in [0, 1), received {rate!r}")
    return float(rate)


def _causal(tq: int, tv: int, device) -> torch.Tensor:
    """``(1, Tq, Tv)`` boolean mask, True where target ``i`` may see source ``j <= i``."""
    return torch.ones(tq, tv, dtype=torch.bool, device=device).tril().unsqueeze(0)


class Attention(Layer):
    """Dot-product (Luong-style) attention over ``[query, value]`` or ``[query, value, key]``.

    ``scores = query @ key^T`` (times ``scale`` if ``use_scale``; with ``score_mode="concat"``
    ``scores = concat_score_weight * sum(tanh(scale * (q_i + k_j)))``), masked source steps get
    ``scores - 1e9``, ``weights = softmax(scores)`` (dropout in training),
    ``output = weights @ value``, zero on masked query steps.

    Shapes: query ``(B, Tq, dim)``, value ``(B, Tv, dim_v)``, key ``(B, Tv, dim)`` (default
    value) -> output ``(B, Tq, dim_v)``; scores ``(B, Tq, Tv)``.

    Args:
        use_scale: learn a scalar ``scale`` (default False).
        score_mode: ``"dot"`` (default) or ``"concat"`` (adds a scalar ``concat_score_weight``).
        dropout: float in ``[0, 1)``, dropout on the attention weights in training.
        seed: int for repeatable dropout.

    Call arguments: ``inputs`` list; ``mask`` list ``[query_mask, value_mask]`` (default: the
    inputs' Keras masks); ``return_attention_scores`` (default False); ``use_causal_mask``
    (default False); ``training``.

    >>> import torch
    >>> q, v = torch.ones(2, 3, 4), torch.ones(2, 5, 4)
    >>> out, scores = Attention()([q, v], return_attention_scores=True)
    >>> out.shape, scores.shape
    (torch.Size([2, 3, 4]), torch.Size([2, 3, 5]))
    """

    supports_masking = True

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(
                f"{type(self).__name__}: score_mode must be 'dot' or 'concat', "
                f"received {score_mode!r}"
            )
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = _check_rate(type(self).__name__, dropout)
        self.seed = seed
        self.seed_generator = SeedGenerator(seed)  # dropout draws (a non-trainable variable, as in Keras)
        self.scale = None
        self.concat_score_weight = None

    def _validate(self, inputs, mask=None):
        name = type(self).__name__
        if not isinstance(inputs, list | tuple) or not 2 <= len(inputs) <= 3:
            raise ValueError(
                f"{name} must be called on a list [query, value] or [query, value, key], "
                f"received {type(inputs).__name__}"
                + (f" of length {len(inputs)}" if isinstance(inputs, list | tuple) else "")
            )
        if mask is not None and (not isinstance(mask, list | tuple) or not 2 <= len(mask) <= 3):
            raise ValueError(
                f"{name}: mask must be a list [query_mask, value_mask], received {mask!r:.100}"
            )

    def build(self, input_shape):
        self._validate(input_shape)
        if self.use_scale:
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(
                shape=(), initializer="ones", name="concat_score_weight"
            )
        self.built = True

    def _scores(self, query, key):
        if self.score_mode == "dot":
            scores = query @ key.transpose(-2, -1)  # (B, Tq, Tv)
            return scores * self.scale if self.scale is not None else scores
        summed = query.unsqueeze(-2) + key.unsqueeze(-3)  # (B, Tq, Tv, dim)
        if self.scale is not None:
            summed = self.scale * summed
        return self.concat_score_weight * torch.tanh(summed).sum(-1)

    def call(
        self, inputs, mask=None, training=None, return_attention_scores=False, use_causal_mask=False
    ):
        self._validate(inputs, mask)
        inputs = [to_tensor(t, self.dtype) for t in inputs]
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        if q.dim() < 2 or v.dim() != q.dim() or k.shape[:-1] != v.shape[:-1] or (
            k.shape[-1] != q.shape[-1]
        ):
            raise ValueError(
                f"{self.name}: expected query (B, Tq, dim), value (B, Tv, dim_v) and key "
                f"(B, Tv, dim); received {tuple(q.shape)}, {tuple(v.shape)}, {tuple(k.shape)}"
            )
        q_mask = mask[0] if mask else None
        v_mask = mask[1] if mask else None
        scores = self._scores(q, k)
        scores_mask = None if v_mask is None else torch.as_tensor(v_mask).bool().unsqueeze(-2)
        if use_causal_mask:
            causal = _causal(scores.shape[-2], scores.shape[-1], scores.device)
            scores_mask = causal if scores_mask is None else scores_mask & causal
        if scores_mask is not None:
            big = 65504.0 if scores.dtype == torch.float16 else 1.0e9
            scores = torch.where(scores_mask, scores, scores - big)
        weights = torch.softmax(scores, dim=-1)
        used = _dropout(self, weights, self.dropout) if training and self.dropout > 0 else weights
        out = used @ v
        if q_mask is not None:
            keep = torch.as_tensor(q_mask).bool().unsqueeze(-1)
            out = torch.where(keep, out, torch.zeros((), dtype=out.dtype))
        return (out, weights) if return_attention_scores else out

    def compute_mask(self, inputs, mask=None):
        if mask is None or not isinstance(mask, list | tuple) or mask[0] is None:
            return None
        return torch.as_tensor(mask[0])

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape[0])[:-1], input_shape[1][-1])

    def get_config(self):
        cfg = {
            "use_scale": self.use_scale,
            "score_mode": self.score_mode,
            "dropout": self.dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **cfg}


class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention over ``[query, value]`` or ``[query, value, key]``.

    ``scores[b, i, j] = sum(scale * tanh(query[b, i] + key[b, j]))`` with a learned vector
    ``scale`` of shape ``(dim,)`` (when ``use_scale``); masks, dropout, outputs and call
    arguments as :class:`Attention`.

    Args:
        use_scale: learn ``scale`` (default True; glorot-uniform initialised).
        dropout: float in ``[0, 1)`` on the attention weights in training.
        seed: int for repeatable dropout.

    >>> import torch
    >>> layer = AdditiveAttention()
    >>> layer([torch.ones(2, 3, 4), torch.ones(2, 5, 4)]).shape
    torch.Size([2, 3, 4])
    >>> [w.shape for w in layer.get_weights()]
    [(4,)]
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        kwargs.pop("score_mode", None)
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._validate(input_shape)
        if self.use_scale:
            self.scale = self.add_weight(
                shape=(input_shape[0][-1],), initializer="glorot_uniform", name="scale"
            )
        self.built = True

    def _scores(self, query, key):
        t = torch.tanh(query.unsqueeze(-2) + key.unsqueeze(-3))  # (B, Tq, Tv, dim)
        return (t * self.scale).sum(-1) if self.scale is not None else t.sum(-1)

    def get_config(self):
        cfg = super().get_config()
        del cfg["score_mode"]
        return cfg


class _Projection(Layer):
    """``einsum`` projection of the last axis: ``(B, T, d) @ kernel (d, *out) + bias (*out)``.

    Keras's MultiHeadAttention builds these as ``EinsumDense`` sublayers; only the weights and
    their order / layout matter here.
    """

    def __init__(self, in_dims, out_dims, use_bias, owner, **kwargs):
        super().__init__(**kwargs)
        self.in_dims, self.out_dims = tuple(in_dims), tuple(out_dims)
        self.kernel = self.add_weight(
            shape=(*self.in_dims, *self.out_dims),
            initializer=owner.kernel_initializer,
            name="kernel",
            regularizer=owner.kernel_regularizer,
            constraint=owner.kernel_constraint,
        )
        self.bias = None
        if use_bias:
            self.bias = self.add_weight(
                shape=self.out_dims,
                initializer=owner.bias_initializer,
                name="bias",
                regularizer=owner.bias_regularizer,
                constraint=owner.bias_constraint,
            )
        self.built = True

    def call(self, x):
        n_in = len(self.in_dims)
        flat = x.reshape(*x.shape[: x.dim() - n_in], -1) @ self.kernel.reshape(
            math.prod(self.in_dims), -1
        )
        y = flat.reshape(*x.shape[: x.dim() - n_in], *self.out_dims)
        return y if self.bias is None else y + self.bias


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al.) with Keras's weights, masks and options.

    Per head ``h``: ``Q = query @ Wq[:, h] + bq[h]`` ``(B, Tq, key_dim)``, ``K`` and ``V`` alike
    from ``key`` / ``value``; ``weights = softmax(Q K^T / sqrt(key_dim) + mask)``
    ``(B, heads, Tq, Tv)``; ``output = sum_h (weights V)_h @ Wo[h] + bo`` ``(B, Tq, out)``.

    Weights, in Keras's order and layout: query ``kernel (dim_q, heads, key_dim)`` /
    ``bias (heads, key_dim)``, key (``dim_k``), [gate, with ``use_gate``], value
    ``(dim_v, heads, value_dim)``, attention output ``kernel (heads, value_dim, out)`` /
    ``bias (out,)``; ``out`` = ``output_shape`` or ``dim_q``.

    Args:
        num_heads, key_dim: positive ints.
        value_dim: per-head value size (default ``key_dim``).
        dropout: float in ``[0, 1)`` on the attention weights in training.
        use_bias: projection biases (default True).
        output_shape: int / tuple, last axes of the output (default: ``dim_q``).
        attention_axes: None or ``(1,)`` (attention over time; other axes are not supported).
        sliding_window: int, target ``i`` sees sources with ``|i - j| < sliding_window``.
        flash_attention: accepted; the fused path is ``F.scaled_dot_product_attention``.
        kernel_initializer (default ``"glorot_uniform"``), bias_initializer (``"zeros"``),
            kernel/bias regularizers and constraints, activity_regularizer.
        use_gate: a sigmoid gate on the heads' outputs (default False).
        seed: int for repeatable dropout.

    Call arguments: ``query (B, Tq, dim_q)``, ``value (B, Tv, dim_v)``, ``key`` (default
    value); ``value_mask`` / ``key_mask`` ``(B, Tv)`` (default: value's / key's Keras mask);
    the query mask is the query's Keras mask (as in Keras, which ignores an explicit
    ``query_mask`` argument) and becomes the output's; ``attention_mask (B, Tq, Tv)``;
    ``return_attention_scores``; ``use_causal_mask``; ``training``.

    >>> import torch
    >>> layer = MultiHeadAttention(num_heads=2, key_dim=3)
    >>> out, scores = layer(torch.ones(2, 4, 6), torch.ones(2, 5, 6), return_attention_scores=True)
    >>> out.shape, scores.shape
    (torch.Size([2, 4, 6]), torch.Size([2, 2, 4, 5]))
    >>> [w.shape for w in layer.get_weights()][:2]
    [(6, 2, 3), (2, 3)]
    """

    supports_masking = True

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        sliding_window=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_gate=False,
        seed=None,
        **kwargs,
    ):
        for arg, value in (("num_heads", num_heads), ("key_dim", key_dim), ("value_dim", value_dim),
                           ("sliding_window", sliding_window)):
            if (value is not None or arg in ("num_heads", "key_dim")) and (
                isinstance(value, bool) or not isinstance(value, int) or value <= 0
            ):
                raise ValueError(
                    f"MultiHeadAttention: {arg} must be a positive int, received {value!r}"
                )
        super().__init__(**kwargs)
        self.num_heads, self.key_dim = num_heads, key_dim
        self.value_dim = value_dim or key_dim
        self.dropout = _check_rate("MultiHeadAttention", dropout)
        self.use_bias, self.use_gate = bool(use_bias), bool(use_gate)
        if isinstance(output_shape, int):
            output_shape = (output_shape,)
        self._output_shape = tuple(output_shape) if output_shape else None
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        if attention_axes is not None and tuple(attention_axes) not in ((1,), (-2,)):
            raise NotImplementedError(
                "MultiHeadAttention: only attention over the time axis of (B, T, dim) inputs "
                f"(attention_axes None or (1,)) is supported, received {attention_axes!r}"
            )
        self.attention_axes = None if attention_axes is None else tuple(attention_axes)
        self.sliding_window = sliding_window
        self.flash_attention = flash_attention
        self.seed = seed
        self.seed_generator = SeedGenerator(seed)  # dropout draws (a non-trainable variable, as in Keras)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._shapes = None

    # Built from three shapes on the first call (Layer's one-shape build cannot).
    def _maybe_build(self, inputs):
        pass

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        shapes = [tuple(query_shape), tuple(value_shape), tuple(key_shape)]
        if any(len(s) != 3 or s[-1] is None for s in shapes):
            raise ValueError(
                f"{self.name}: expected query, value and key of rank 3 (batch, steps, dim) with "
                f"a known last axis, received shapes {shapes}"
            )
        self._shapes = shapes
        H, kd, vd = self.num_heads, self.key_dim, self.value_dim
        own = {"owner": self, "dtype": self._dtype_name}
        self.query_dense = _Projection((shapes[0][-1],), (H, kd), self.use_bias, name="query", **own)
        self.key_dense = _Projection((shapes[2][-1],), (H, kd), self.use_bias, name="key", **own)
        if self.use_gate:
            self._gate_dense = _Projection(
                (shapes[0][-1],), (H, vd), self.use_bias, name="gate", **own
            )
        self.value_dense = _Projection((shapes[1][-1],), (H, vd), self.use_bias, name="value", **own)
        out = self._output_shape or (shapes[0][-1],)
        self.output_dense = _Projection(
            (H, vd), out, self.use_bias, name="attention_output", **own
        )
        self.built = True

    def get_build_config(self):
        if self._shapes is None:
            return None
        q, v, k = ([None if d is None else int(d) for d in s] for s in self._shapes)
        return {"shapes_dict": {"query_shape": q, "value_shape": v, "key_shape": k}}

    def build_from_config(self, build_config):
        if not build_config or self.built:
            return
        sd = build_config.get("shapes_dict", build_config)
        q = sd.get("query_shape", build_config.get("input_shape"))
        self.build(q, sd.get("value_shape"), sd.get("key_shape"))

    def _attention_mask(self, q, v, query_mask, value_mask, key_mask, attention_mask, causal):
        auto = None
        if query_mask is not None:
            auto = torch.as_tensor(query_mask).bool().unsqueeze(-1)  # (B, Tq, 1)
        for m in (value_mask, key_mask):
            if m is not None:
                m = torch.as_tensor(m).bool().unsqueeze(-2)  # (B, 1, Tv)
                auto = m if auto is None else auto & m
        if causal:
            c = _causal(q.shape[1], v.shape[1], q.device)
            auto = c if auto is None else auto & c
        if self.sliding_window is not None:
            i = torch.arange(q.shape[1], device=q.device).view(1, -1, 1)
            j = torch.arange(v.shape[1], device=q.device).view(1, 1, -1)
            w = (i - j).abs() < self.sliding_window
            auto = w if auto is None else auto & w
        if attention_mask is not None:
            attention_mask = torch.as_tensor(attention_mask).bool()
            return attention_mask if auto is None else attention_mask & auto
        return auto

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        value = self._convert_input(value)
        if value_mask is None:
            value_mask = getattr(value, "_keras_mask", None)
        if key is not None:
            key = self._convert_input(key)
            if key_mask is None:
                key_mask = getattr(key, "_keras_mask", None)
        else:
            key = value
        if not self.built:
            self.build(tuple(query.shape), tuple(value.shape), tuple(key.shape))
        for what, t, s in (("query", query, 0), ("value", value, 1), ("key", key, 2)):
            if t.dim() != 3 or t.shape[-1] != self._shapes[s][-1]:
                raise ValueError(
                    f"{self.name}: expected {what} of shape (batch, steps, {self._shapes[s][-1]}), "
                    f"received {tuple(t.shape)}"
                )
        query_mask = getattr(query, "_keras_mask", None)  # as Keras: the query's own mask
        causal_only = use_causal_mask and all(
            m is None for m in (query_mask, value_mask, key_mask, attention_mask)
        ) and self.sliding_window is None
        mask = None if causal_only else self._attention_mask(
            query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask
        )
        gate = self._gate_dense(query) if self.use_gate else None
        # (B, T, heads, dim) -> (B, heads, T, dim)
        Q = self.query_dense(query).transpose(1, 2)
        K = self.key_dense(key).transpose(1, 2)
        V = self.value_dense(value).transpose(1, 2)
        scale = 1.0 / math.sqrt(float(self.key_dim))
        scores = None
        if self.dropout == 0 and not return_attention_scores:
            # Keras's fused path sets masked logits to -0.7 * max(dtype): a fully masked target
            # row attends uniformly (the einsum path below gives it zero weights). Huge biases
            # break SDPA's backward (its log-sum-exp loses them), so such rows are unmasked for
            # SDPA and replaced by the uniform average of the values.
            m = dead = None
            if mask is not None:
                m = mask.unsqueeze(1)  # (B, 1, Tq, Tv)
                dead = ~m.any(dim=-1, keepdim=True)  # (B, 1, Tq, 1)
                m = m | dead
            ctx = F.scaled_dot_product_attention(
                Q, K, V, attn_mask=m, scale=scale, is_causal=causal_only
            )
            if dead is not None and bool(dead.any()):
                ctx = torch.where(dead, V.mean(dim=-2, keepdim=True), ctx)
        else:
            logits = (Q * scale) @ K.transpose(-2, -1)  # (B, heads, Tq, Tv)
            if mask is not None:
                m = mask.unsqueeze(1)
                logits = torch.where(m, logits, torch.tensor(-1e9, dtype=logits.dtype))
            elif causal_only:
                m = _causal(Q.shape[2], K.shape[2], Q.device).unsqueeze(1)
                logits = torch.where(m, logits, torch.tensor(-1e9, dtype=logits.dtype))
            else:
                m = None
            scores = torch.softmax(logits, dim=-1)
            if m is not None:
                scores = torch.where(m, scores, torch.zeros((), dtype=scores.dtype))
            used = _dropout(self, scores, self.dropout) if training and self.dropout > 0 else scores
            ctx = used @ V
        ctx = ctx.transpose(1, 2)  # (B, Tq, heads, value_dim)
        if gate is not None:
            ctx = ctx * torch.sigmoid(gate)
        out = self.output_dense(ctx)
        return (out, scores) if return_attention_scores else out

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        if self._output_shape:
            return query_shape[:-1] + self._output_shape
        return query_shape

    def get_config(self):
        cfg = {
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "use_gate": self.use_gate,
            "output_shape": None if self._output_shape is None else list(self._output_shape),
            "attention_axes": None if self.attention_axes is None else list(self.attention_axes),
            "sliding_window": self.sliding_window,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": serialize_or_none(regularizers, self.kernel_regularizer),
            "bias_regularizer": serialize_or_none(regularizers, self.bias_regularizer),
            "activity_regularizer": serialize_or_none(regularizers, self.activity_regularizer),
            "kernel_constraint": serialize_or_none(constraints, self.kernel_constraint),
            "bias_constraint": serialize_or_none(constraints, self.bias_constraint),
            "seed": self.seed,
        }
        return {**super().get_config(), **cfg}
