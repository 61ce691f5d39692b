"""``Model``: functional (``Model(inputs, outputs)``) and subclassed models, with Keras's
``compile`` / ``fit`` / ``evaluate`` / ``predict`` on PyTorch underneath."""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from rnnkit.layers.layer import Layer, _TrainingScope, flatten
from rnnkit.models import data as D
from rnnkit.models.functional import Graph

__all__ = ["Model", "register_saving"]

# Saving sits above models: ``rnnkit.saving`` registers its functions here when it is imported
# (``import rnnkit`` does that), so nothing in ``rnnkit.models`` imports ``rnnkit.saving``.
_SAVING: dict = {}


def register_saving(**functions) -> None:
    """Install the saving functions models delegate to (called by :mod:`rnnkit.saving`).

    Keys: ``model_to_config``, ``model_from_config``, ``save_model``, ``load_model``,
    ``save_weights``, ``load_weights``, ``export_model``.
    """
    _SAVING.update(functions)


def _saving(name: str):
    fn = _SAVING.get(name)
    if fn is None:
        raise RuntimeError(
            f"{name} is provided by rnnkit.saving, which is not loaded; `import rnnkit` (or "
            "rnnkit.saving.model_config) registers it"
        )
    return fn


def _norm_list(spec, n, names, what):
    """Spread a compile argument (single, list or dict by output name) over ``n`` outputs."""
    if isinstance(spec, dict):
        unknown = set(spec) - set(names)
        if unknown:
            raise ValueError(f"{what} names unknown outputs {sorted(unknown)}; outputs are {names}")
        return [spec.get(nm) for nm in names]
    if isinstance(spec, list | tuple) and n > 1 and len(spec) == n:
        return list(spec)
    if isinstance(spec, list | tuple) and n > 1 and len(spec) != n and what == "loss":
        raise ValueError(f"loss has {len(spec)} entries for a model with {n} outputs")
    return [spec] * n


class _LossTracker:
    """The running mean of the loss over an epoch (sample-weighted by batch size)."""

    _direction = "down"

    def __init__(self, name="loss"):
        self.name = name
        self.total, self.count = 0.0, 0

    def update(self, value: float, n: int):
        self.total += value * n
        self.count += n

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def reset_state(self):
        self.total, self.count = 0.0, 0

    reset_states = reset_state


class Model(Layer):
    """A model: layers plus training (``compile``, ``fit``, ``evaluate``, ``predict``).

    Built two ways, as in Keras:

    - functional: ``Model(inputs, outputs)`` from :func:`rnnkit.Input` and layer calls;
    - subclassing: ``class M(Model)`` with layers as attributes and ``call(inputs, training=None)``.

    It is a ``torch.nn.Module``: ``model.to("cuda")`` moves it, ``model.parameters()`` feeds any
    torch optimizer, and ``fit`` moves each batch to the model's device.

    >>> import numpy as np, rnnkit
    >>> from rnnkit import layers
    >>> inp = rnnkit.Input(shape=(None, 3))
    >>> model = Model(inp, layers.Dense(2)(layers.LSTM(4)(inp)))
    >>> model.compile(optimizer="adam", loss="mse")
    >>> hist = model.fit(np.zeros((8, 5, 3)), np.zeros((8, 2)), epochs=2, verbose=0)
    >>> len(hist.history["loss"]), model.predict(np.zeros((2, 5, 3)), verbose=0).shape
    (2, (2, 2))
    """

    def __init__(self, *args, **kwargs):
        inputs = kwargs.pop("inputs", args[0] if len(args) > 0 else None)
        outputs = kwargs.pop("outputs", args[1] if len(args) > 1 else None)
        super().__init__(**kwargs)
        self._graph = None
        self.optimizer = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._compile_config = None
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("a functional Model needs both inputs and outputs")
            self._graph = Graph(inputs, outputs)
            # Keras's layer order; the model's weights follow it, layer by layer.
            self._graph_layers = nn.ModuleList(self._graph.layers)
            self.built = True

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> list:
        """The model's layers in Keras's order.

        Functional: every layer of the graph including its ``InputLayer``\\ s, deepest first (see
        :mod:`rnnkit.models.functional`); subclassed: the layers in attribute-assignment order.
        """
        if self._graph is not None:  # Keras leaves operation nodes (NotEqual, GetItem ...) out
            return [op for op in self._graph.operations if not getattr(op, "_keras_operation", False)]
        return [m for m in self.children() if isinstance(m, Layer)]

    @property
    def inputs(self):
        """The symbolic inputs as a flat list (functional models; None for subclassed ones)."""
        return None if self._graph is None else list(self._graph.inputs)

    @property
    def outputs(self):
        """The symbolic outputs as a flat list (functional models; None for subclassed ones)."""
        return None if self._graph is None else list(self._graph.outputs)

    @property
    def input(self):
        """The symbolic input(s) in the structure given to ``Model(inputs, ...)``."""
        if self._graph is None:
            return super().input
        return self._graph.input_structure

    @property
    def output(self):
        """The symbolic output(s) in the structure given to ``Model(..., outputs)``."""
        if self._graph is None:
            return super().output
        return self._graph.output_structure

    @property
    def output_names(self) -> list[str]:
        if self._graph is not None:
            names, seen = [], {}
            for t in self._graph.outputs:
                name = t.node.layer.name if t.node is not None else t.name
                n = seen.get(name, 0)
                seen[name] = n + 1
                names.append(name if n == 0 else f"{name}_{n}")
            return names
        return ["output"]

    def get_layer(self, name=None, index=None):
        """A layer by ``name`` or by ``index`` into :attr:`layers`."""
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"index {index} out of range for a model with {len(self.layers)} layers")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; layers are {[layer.name for layer in self.layers]}")

    def call(self, inputs, training=None, mask=None):
        if self._graph is None:
            raise NotImplementedError(
                f"{type(self).__name__} must implement call(inputs, training=None) or be built "
                f"as Model(inputs, outputs)"
            )
        return self._graph.run(self._match_inputs(inputs), training=training)

    def _match_inputs(self, inputs) -> list:
        want = self._graph.inputs
        if isinstance(inputs, dict):
            names = [t.name for t in want]
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(f"model inputs {missing} missing from the dict with keys {sorted(inputs)}")
            return [inputs[n] for n in names]
        given = list(inputs) if isinstance(inputs, list | tuple) and len(want) > 1 else [inputs]
        if isinstance(inputs, list | tuple) and len(want) == 1 and len(inputs) == 1:
            given = [inputs[0]]
        if len(given) != len(want):
            raise ValueError(
                f"{self.name} expects {len(want)} input(s) {[t.shape for t in want]}, received "
                f"{len(given)}"
            )
        return given

    def reset_states(self):
        """Reset every stateful recurrent layer of the model."""
        for m in self.modules():
            if getattr(m, "stateful", False) and hasattr(m, "reset_states") and m is not self:
                m.reset_states()

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False, layer_range=None):
        """Print Keras's summary table (layers, output shapes, parameter counts, connections).

        See :func:`rnnkit.models.summary.summary` for the arguments.
        """
        from rnnkit.models.summary import summary

        summary(
            self,
            line_length=line_length,
            positions=positions,
            print_fn=print_fn,
            expand_nested=expand_nested,
            show_trainable=show_trainable,
            layer_range=layer_range,
        )

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        metrics=None,
        loss_weights=None,
        weighted_metrics=None,
        run_eagerly=None,
        steps_per_execution=1,
        jit_compile=None,
        mixed_precision=None,
        **kwargs,
    ):
        """Configure training: optimizer, loss(es), metrics, loss weights.

        ``mixed_precision``: None (off), ``"float16"`` or ``"bfloat16"``: the forward pass runs
        under ``torch.autocast`` (with gradient scaling for float16 on CUDA).

        ``jit_compile`` (None | False | True | "auto"): routes every recurrent layer of the model
        that was not given its own ``jit_compile`` through the compiled runner
        (:mod:`rnnkit.runners.compiled`) in training, evaluation and prediction; None (the
        default) leaves each layer's setting alone. Layers on the fused kernel (LSTM / GRU /
        SimpleRNN with default activations) stay there. The rest of the step (loss, metrics,
        optimizer) runs eagerly.
        """
        from rnnkit import optimizers

        self.optimizer = optimizers.get(optimizer)
        if self.optimizer is None:
            raise ValueError(f"compile needs an optimizer, received {optimizer!r}")
        self._loss_spec, self._metric_spec = loss, metrics
        self._loss_weights, self._weighted_metric_spec = loss_weights, weighted_metrics
        if mixed_precision not in (None, False, "float16", "bfloat16", "mixed_float16", "mixed_bfloat16"):
            raise ValueError(f"mixed_precision must be None, 'float16' or 'bfloat16', received {mixed_precision!r}")
        self._amp = None if not mixed_precision else mixed_precision.replace("mixed_", "")
        if jit_compile is not None:
            from rnnkit.layers.rnn import RNN
            from rnnkit.runners.compiled import check_jit_compile

            jit_compile = check_jit_compile(jit_compile, "compile")
            for m in self.modules():
                if isinstance(m, RNN) and not m.__dict__.get("_jit_compile_explicit"):
                    m.jit_compile = jit_compile
        self._scaler = None
        self._losses = None  # resolved on the first batch, when output shapes are known
        self.__dict__["_all_layers"] = None
        self.compiled = True
        self._compile_config = {
            "optimizer": optimizer if isinstance(optimizer, str) else None,
            "loss": loss if isinstance(loss, str) else None,
            "metrics": [m for m in (metrics or []) if isinstance(m, str)] if isinstance(metrics, list | tuple) else None,
            "loss_weights": loss_weights,
        }

    def _resolve_compile(self, y_true, y_pred):
        from rnnkit import losses, metrics

        preds = flatten(y_pred)
        n = len(preds)
        names = self.output_names if len(self.output_names) == n else [f"output_{i}" for i in range(n)]
        trues = flatten(y_true) if y_true is not None else [None] * n
        if y_true is not None and len(trues) != n:
            raise ValueError(f"the model has {n} output(s) but y holds {len(trues)} array(s)")
        loss_specs = _norm_list(self._loss_spec, n, names, "loss")
        self._losses = [
            None if spec is None else losses.resolve_loss(spec, tuple(t.shape) if t is not None else None, tuple(p.shape))
            for spec, t, p in zip(loss_specs, trues, preds)
        ]
        if all(fn is None for fn in self._losses):
            raise ValueError("compile() was given no loss; pass loss=... to train or evaluate")
        self._loss_w = _norm_list(self._loss_weights, n, names, "loss_weights")
        self._loss_w = [1.0 if w is None else float(w) for w in self._loss_w]
        spec = self._metric_spec
        if spec is None or isinstance(spec, list | tuple) and not spec:
            per_out = [[] for _ in range(n)]
        elif isinstance(spec, dict):
            per_out = [list(spec.get(nm) or []) if isinstance(spec.get(nm), list | tuple) else ([spec[nm]] if spec.get(nm) else []) for nm in names]
        elif isinstance(spec, list | tuple) and n > 1 and len(spec) == n and all(isinstance(s, list | tuple) for s in spec):
            per_out = [list(s) for s in spec]
        else:
            per_out = [list(spec) if isinstance(spec, list | tuple) else [spec]] * n
        self._metrics = []
        for i, (specs, t, p) in enumerate(zip(per_out, trues, preds)):
            for s in specs:
                m = metrics.resolve_metric(
                    s, tuple(t.shape) if t is not None else None, tuple(p.shape), loss=loss_specs[i]
                )
                if n > 1:
                    m.name = f"{names[i]}_{m.name}"
                self._metrics.append((i, m))
        self._out_names = names
        self._loss_tracker = _LossTracker()
        self._output_loss_trackers = {i: _LossTracker(f"{nm}_loss") for i, nm in enumerate(names)}

    @property
    def metrics(self) -> list:
        out = [self._loss_tracker] if getattr(self, "_losses", None) else []
        if out and len(self._out_names) > 1:
            out += [t for i, t in sorted(self._output_loss_trackers.items()) if self._losses[i]]
        return out + [m for _, m in getattr(self, "_metrics", [])]

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    # ------------------------------------------------------------------ steps
    def _device(self):
        for p in self.parameters():
            return p.device
        return None

    def _autocast(self):
        if not getattr(self, "_amp", None):
            return contextlib.nullcontext()
        dev = self._device()
        dtype = torch.float16 if self._amp == "float16" else torch.bfloat16
        return torch.autocast(device_type=dev.type if dev is not None else "cpu", dtype=dtype)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        """Weighted sum of the per-output losses plus the layers' regularisation losses."""
        preds, trues = flatten(y_pred), flatten(y)
        total = 0.0
        per_output = []
        for i, fn in enumerate(self._losses):
            if fn is None:
                continue
            sw = sample_weight[i] if isinstance(sample_weight, list | tuple) else sample_weight
            value = fn(trues[i], preds[i].float() if self._amp else preds[i], sample_weight=sw)
            per_output.append((i, value))
            total = total + self._loss_w[i] * value
        self.__dict__["_last_output_losses"] = per_output
        reg = self._regularization_losses()
        if reg:
            total = total + sum(reg)
        return total

    def _layers_with(self, attr):
        """Sublayers (self included) with a non-empty ``attr`` (the layer list is cached)."""
        layers = self.__dict__.get("_all_layers")
        if layers is None:  # cleared by compile() and Sequential.add / pop
            layers = self.__dict__["_all_layers"] = [m for m in self.modules() if isinstance(m, Layer)]
        return [m for m in layers if getattr(m, attr)]

    def _regularization_losses(self):
        out = []
        for m in self._layers_with("_regularizers"):
            for pname, reg in m._regularizers.items():
                p = m._parameters.get(pname)
                if p is not None:
                    out.append(reg(p))
        for m in self._layers_with("_activity_losses"):
            out.extend(m._activity_losses)
        return out

    def _check_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"You must call compile() before {what}()")

    def train_step(self, x, y, sample_weight=None):
        """One optimisation step on a batch; returns the batch's logs."""
        self._set_train_mode(True)
        ctx = self.__dict__.get("_dist_ctx")
        forward = self if ctx is None else self._ddp_forward(ctx, x)
        with _TrainingScope(True), self._autocast():
            y_pred = forward(x, training=True)
        if self._losses is None:
            self._resolve_compile(y, y_pred)
        loss = self.compute_loss(x, y, y_pred, sample_weight)
        if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
            if isinstance(loss, torch.Tensor) and not any(p.requires_grad for p in self.parameters()):
                # No trainable weights at all (e.g. Masking alone): Keras runs the step as a no-op.
                return self._update_metrics(loss, y, y_pred, sample_weight)
            raise RuntimeError("the loss does not depend on any trainable weight; nothing to train")
        logged, loss = loss, (loss if ctx is None else loss * ctx.loss_scale())
        opt = self.optimizer
        if not opt.built:
            opt.build([p for p in self.parameters() if p.requires_grad])
        opt.zero_grad()
        if self._amp == "float16" and self._device() is not None and self._device().type == "cuda":
            if self._scaler is None:
                self._scaler = torch.amp.GradScaler("cuda")
            self._scaler.scale(loss).backward()
            self._scaler.unscale_(opt.torch_optimizer)
            opt.step()
            self._scaler.update()
        else:
            loss.backward()
            opt.step()
        if self._layers_with("_constraints"):
            self.apply_constraints()
        return self._update_metrics(logged, y, y_pred, sample_weight)

    def _ddp_forward(self, ctx, x):
        """The DistributedDataParallel wrapper of this model (built first if it is still lazy)."""
        if "_ddp_module" not in self.__dict__ and not all(
            getattr(m, "built", True) for m in self.modules() if isinstance(m, Layer)
        ):
            saved = [(m, m._states) for m in self.modules() if getattr(m, "stateful", False) and hasattr(m, "_states")]
            with torch.no_grad(), _TrainingScope(False):
                self(x, training=False)  # create the lazily built weights before DDP wraps them
            for m, states in saved:
                m._states = states
        return ctx.wrap(self)

    def test_step(self, x, y, sample_weight=None):
        self._set_train_mode(False)
        with torch.no_grad(), _TrainingScope(False), self._autocast():
            y_pred = self(x, training=False)
        if self._losses is None:
            self._resolve_compile(y, y_pred)
        with torch.no_grad():
            loss = self.compute_loss(x, y, y_pred, sample_weight)
        return self._update_metrics(loss, y, y_pred, sample_weight)

    def _update_metrics(self, loss, y, y_pred, sample_weight):
        value = float(loss.detach())
        ctx = self.__dict__.get("_dist_ctx")
        if ctx is not None:  # every rank logs the global batch's numbers
            value = ctx.weighted_mean(value)
            self.__dict__["_last_output_losses"] = [
                (i, torch.tensor(ctx.weighted_mean(float(v.detach()))))
                for i, v in self.__dict__.get("_last_output_losses", [])
            ]
            y, y_pred, sample_weight = (ctx.gather_structure(v) for v in (y, D.detach(y_pred), sample_weight))
        n = int(flatten(y_pred)[0].shape[0])
        self._loss_tracker.update(value, n)
        logs = {"loss": value}
        if len(self._out_names) > 1:  # Keras logs each output's own loss as "<output>_loss"
            for i, out_loss in self.__dict__.get("_last_output_losses", []):
                tracker = self._output_loss_trackers[i]
                tracker.update(float(out_loss.detach()), n)
                logs[tracker.name] = float(out_loss.detach())
        preds, trues = flatten(y_pred), flatten(y)
        for i, m in self._metrics:
            sw = sample_weight[i] if isinstance(sample_weight, list | tuple) else sample_weight
            m.update_state(trues[i], preds[i].detach(), sample_weight=sw)
            logs[m.name] = m.result()
        return logs

    def _epoch_logs(self):
        return {m.name: m.result() for m in self.metrics}

    def _reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _set_train_mode(self, flag):
        if self.training != flag:
            self.train(flag)

    def predict_step(self, x):
        self._set_train_mode(False)
        with torch.no_grad(), _TrainingScope(False), self._autocast():
            return self(x, training=False)

    # ------------------------------------------------------------------ fit / evaluate / predict
    def _distributed(self):
        """The torchrun context (see :mod:`rnnkit.training.distributed`), remembered for the steps."""
        from rnnkit.training import distributed

        ctx = distributed.context()
        if ctx is not None:
            ctx.prepare_model(self)
        self.__dict__["_dist_ctx"] = ctx
        return ctx

    def _make_data(self, x, y, sample_weight, batch_size, shuffle, steps, class_weight=None):
        if D.is_sequence(x):
            if y is not None:
                raise ValueError("y must not be given when x is a Sequence / PyDataset (its batches hold the targets)")
            batches = D.SequenceBatches(x, shuffle, class_weight)
            return batches if steps is None else D.IterableBatches(batches, steps)
        if y is None and isinstance(x, list) and x and all(isinstance(b, tuple) for b in x):
            return D.IterableBatches(x, steps, batch_size)  # a list of (x, y[, sw]) batches
        if D.is_array_like(x):
            if y is not None and not D.is_array_like(y):
                raise ValueError(f"y must be an array (or a list/dict of arrays) like x, received {type(y).__name__}")
            if class_weight is not None and y is not None:
                cw = D.class_weights_to_sample_weights(D.to_tensors(y), class_weight)
                sample_weight = cw if sample_weight is None else D.to_tensors(sample_weight) * cw
            batches = D.ArrayBatches(x, y, sample_weight, batch_size, shuffle)
            return batches if steps is None else D.IterableBatches(batches, steps)
        if x is None:
            raise ValueError("no data given: expected x (arrays, a DataLoader or an iterable of batches)")
        if y is not None:
            raise ValueError("y must not be given when x is a DataLoader / Dataset / iterable of batches")
        if isinstance(x, torch.utils.data.Dataset):
            return D.IterableBatches(x, steps, batch_size)
        if isinstance(x, str | bytes) or not hasattr(x, "__iter__"):
            raise TypeError(f"x must be arrays, a torch Dataset/DataLoader or an iterable of batches; received {type(x).__name__}")
        return D.IterableBatches(x, steps, batch_size)

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ):
        """Train for ``epochs`` epochs; returns the :class:`~rnnkit.callbacks.History`."""
        from rnnkit.callbacks import CallbackList

        self._check_compiled("fit")
        if validation_split and validation_data is None:
            if not D.is_array_like(x):
                raise ValueError("validation_split needs array inputs; pass validation_data for other data")
            (x, y, sample_weight), validation_data = D.split_validation(x, y, sample_weight, validation_split)
        train = self._make_data(x, y, sample_weight, batch_size, shuffle, steps_per_epoch, class_weight)
        val = None
        if validation_data is not None:
            if D.is_xy_tuple(validation_data):
                vx, vy, vsw = (list(validation_data) + [None])[:3]
                val = D.ArrayBatches(vx, vy, vsw, validation_batch_size or batch_size or 32, False)
            else:
                val = D.IterableBatches(validation_data, validation_steps, validation_batch_size)
        verbose = 1 if verbose == "auto" else int(verbose)
        ctx = self._distributed()
        if ctx is not None:
            callbacks, verbose = ctx.rank_callbacks(callbacks), (verbose if ctx.is_main else 0)
        steps = D.length_or_none(train)
        cbs = CallbackList(callbacks, model=self, add_history=True, add_progbar=verbose != 0, verbose=verbose, epochs=epochs, steps=steps)
        self.stop_training = False
        device = self._device()
        cbs.on_train_begin()
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            cbs.on_epoch_begin(epoch)
            if ctx is not None:
                ctx.sync_random_state()  # the same global batches on every rank
            for step, (bx, by, bsw) in enumerate(train):
                if ctx is not None:
                    bx, by, bsw = ctx.shard((bx, by, bsw))
                cbs.on_train_batch_begin(step)
                device = device or self._device()
                blogs = self.train_step(D.to_device(bx, device), D.to_device(by, device), D.to_device(bsw, device))
                device = self._device()
                cbs.on_train_batch_end(step, blogs)
                if ctx is not None and ctx.any(self.stop_training):
                    self.stop_training = True
                if self.stop_training:
                    break
            logs = self._epoch_logs()
            if val is not None and (epoch + 1) % validation_freq == 0:
                vlogs = self._run_eval(val, cbs, in_fit=True)
                logs.update({f"val_{k}": v for k, v in vlogs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        self._set_train_mode(False)  # calling the model after fit is inference, as in Keras
        self.history = cbs.history
        return cbs.history

    def _run_eval(self, data, cbs, in_fit=False):
        self._reset_metrics()
        device = self._device()
        if not in_fit:
            cbs.on_test_begin()
        ctx = self.__dict__.get("_dist_ctx")
        for step, (bx, by, bsw) in enumerate(data):
            if ctx is not None:
                bx, by, bsw = ctx.shard((bx, by, bsw))
            cbs.on_test_batch_begin(step)
            blogs = self.test_step(D.to_device(bx, device), D.to_device(by, device), D.to_device(bsw, device))
            cbs.on_test_batch_end(step, blogs)
        logs = self._epoch_logs()
        if not in_fit:
            cbs.on_test_end(logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None, callbacks=None, return_dict=False):
        """Loss and metrics on data; a scalar, a list ``[loss, *metrics]``, or a dict."""
        from rnnkit.callbacks import CallbackList

        self._check_compiled("evaluate")
        data = self._make_data(x, y, sample_weight, batch_size, False, steps)
        verbose = 1 if verbose == "auto" else int(verbose)
        ctx = self._distributed()
        if ctx is not None:
            callbacks, verbose = ctx.rank_callbacks(callbacks), (verbose if ctx.is_main else 0)
        n = D.length_or_none(data)
        cbs = CallbackList(callbacks, model=self, add_progbar=verbose != 0, verbose=verbose, epochs=1, steps=n)
        logs = self._run_eval(data, cbs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs as numpy arrays, computed batch by batch."""
        from rnnkit.callbacks import CallbackList

        if D.is_array_like(x):
            data = D.ArrayBatches(x, None, None, batch_size or 32, False)
        else:
            data = D.IterableBatches(x, steps, batch_size)
        verbose = 1 if verbose == "auto" else int(verbose)
        ctx = self._distributed()
        if ctx is not None:
            callbacks, verbose = ctx.rank_callbacks(callbacks), (verbose if ctx.is_main else 0)
        n = D.length_or_none(data)
        cbs = CallbackList(callbacks, model=self, add_progbar=verbose != 0, verbose=verbose, epochs=1, steps=n)
        cbs.on_predict_begin()
        device = self._device()
        outs = []
        for step, (bx, _, _) in enumerate(data):
            if ctx is not None:
                bx = ctx.shard((bx, None, None))[0]
            cbs.on_predict_batch_begin(step)
            out = self.predict_step(D.to_device(bx, device))
            out = D.to_numpy(out if ctx is None else ctx.gather_structure(out))  # in order
            outs.append(out)
            cbs.on_predict_batch_end(step, {"outputs": out})
        cbs.on_predict_end()
        if not outs:
            raise ValueError("predict received no data")
        return D.concat_batches(outs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on one batch; returns the loss (and metrics)."""
        self._check_compiled("train_on_batch")
        x, y, sample_weight = D.to_tensors(x), D.to_tensors(y), D.to_tensors(sample_weight)
        if class_weight is not None:
            sample_weight = D.class_weights_to_sample_weights(y, class_weight)
        self._reset_metrics() if self._losses is not None else None
        dev = self._device()
        logs = self.train_step(D.to_device(x, dev), D.to_device(y, dev), D.to_device(sample_weight, dev))
        self._set_train_mode(False)
        return self._format_batch_logs(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._check_compiled("test_on_batch")
        if self._losses is not None:
            self._reset_metrics()
        dev = self._device()
        logs = self.test_step(*(D.to_device(D.to_tensors(v), dev) for v in (x, y, sample_weight)))
        return self._format_batch_logs(logs, return_dict)

    def predict_on_batch(self, x):
        return D.to_numpy(self.predict_step(D.to_device(D.to_tensors(x), self._device())))

    def _format_batch_logs(self, logs, return_dict):
        logs = self._epoch_logs()
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    # ------------------------------------------------------------------ saving
    def save(self, filepath, overwrite=True, include_optimizer=True, format=None):
        """Write the model to one file; returns the format written, ``"keras"`` or ``"rnnkit"``.

        ``"m.keras"`` (or ``format="keras"``) writes a real Keras 3 archive that Keras 3 loads;
        any other name (``"m.rnnkit"``) writes rnnkit's native file, which also keeps the
        optimizer's state. See :func:`rnnkit.saving.save_model`.
        """
        from rnnkit.training import distributed

        if not distributed.is_main_process():
            return None  # under torchrun only rank 0 writes files
        return _saving("save_model")(self, filepath, include_optimizer=include_optimizer, format=format)

    def save_weights(self, filepath, overwrite=True):
        from rnnkit.training import distributed

        if not distributed.is_main_process():
            return  # under torchrun only rank 0 writes files
        _saving("save_weights")(self, filepath)

    def load_weights(self, filepath):
        _saving("load_weights")(self, filepath)

    def export(self, filepath, format="onnx", verbose=True, input_signature=None, **kwargs):
        """Write the model for serving: ``format="onnx"`` or ``"torch"`` (``torch.export``).

        See :func:`rnnkit.saving.export.export_model` (dynamic batch and time axes for fused
        recurrent layers and their masks; user-written cells export at a fixed sequence length).
        """
        return _saving("export_model")(self, filepath, format=format, input_signature=input_signature, verbose=verbose, **kwargs)

    def get_config(self):
        if self._graph is None:
            return super().get_config()
        return _saving("model_to_config")(self)["config"]

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "layers" in config:
            return _saving("model_from_config")(config, custom_objects)
        return cls(**config)

