"""Export a model for serving: ONNX (checked with onnxruntime) or a ``torch.export`` program.

``model.export(path, format="onnx")`` (Keras's signature) writes an ONNX model whose batch and time
axes are dynamic when every recurrent layer runs on PyTorch's fused kernels (``SimpleRNN`` /
``LSTM`` / ``GRU`` with Keras's default activations, in ``RNN`` with a built-in cell, inside
``Bidirectional`` or stacked): those become ONNX's own RNN / LSTM / GRU operators, and masks from
``Embedding(mask_zero=True)`` or ``Masking`` become per-row sequence lengths, so right- and
left-padded batches of any length give ``predict``'s numbers. A layer that runs on the generic loop
(a user-written cell, ``recurrent_dropout`` is irrelevant at inference but e.g. a non-default
activation or ``unroll=True``) is traced step by step, so its model exports at a **fixed sequence
length** (the signature's, which must then be known); rnnkit warns when that happens. Masks with
holes in the middle of a row are not expressible in the exported graph (valid steps are taken to be
one block per row, as ``pad_sequences`` pads them).

``format="torch"`` writes a :class:`torch.export.ExportedProgram` with ``torch.export.save``
(load it with ``torch.export.load(path).module()``); its batch axis is dynamic and its sequence
length fixed (the signature's, 3 when unknown): ``torch.export`` decomposes PyTorch's RNN kernels
into one step per time step, which pins the length.

The ONNX file needs only onnxruntime (``pip install rnnkit[export]``), no Python code of rnnkit's.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch
from torch import nn

from rnnkit.layers.layer import flatten
from rnnkit.runners import fused
from rnnkit.saving.atomic import atomic_write

__all__ = ["export_model", "ExportError"]

FORMATS = ("onnx", "torch")


class ExportError(ValueError):
    """A model or signature that cannot be exported (names what is wrong)."""


class _Serving(nn.Module):
    """``model`` in inference mode, taking its inputs positionally and returning a flat tuple."""

    def __init__(self, model, n_inputs):
        super().__init__()
        self.model, self.n_inputs = model, n_inputs

    def forward(self, *xs):
        out = self.model(xs[0] if self.n_inputs == 1 else list(xs), training=False)
        return tuple(flatten(out))


def _signature(model, input_signature):
    """``[(shape with None, dtype name, name)]`` of the model's inputs."""
    if input_signature is not None:
        specs = input_signature if isinstance(input_signature, list | tuple) else [input_signature]
        if specs and all(isinstance(s, int | type(None)) for s in specs):
            specs = [tuple(specs)]  # one shape given bare
        out = []
        for i, s in enumerate(specs):
            if hasattr(s, "shape") and hasattr(s, "dtype") and not isinstance(s, np.ndarray | torch.Tensor):
                out.append((tuple(s.shape), str(s.dtype), getattr(s, "name", None) or f"input_{i}"))
            elif isinstance(s, np.ndarray | torch.Tensor):
                dtype = str(s.dtype).replace("torch.", "")
                out.append(((None, *tuple(s.shape)[1:]), dtype, f"input_{i}"))
            elif isinstance(s, list | tuple):
                out.append((tuple(s), "float32", f"input_{i}"))
            else:
                raise ExportError(
                    f"input_signature entries must be rnnkit.Input(...) tensors, arrays or shapes; "
                    f"entry {i} is a {type(s).__name__}"
                )
        for shape, _, name in out:
            if not all(d is None or (isinstance(d, int) and d > 0) for d in shape):
                raise ExportError(
                    f"input_signature shapes hold positive ints or None; {name} has shape {shape}"
                )
        return out
    inputs = getattr(model, "inputs", None) or (
        [model._input] if getattr(model, "_input", None) is not None else None
    )
    if inputs:
        return [(tuple(t.shape), str(t.dtype), t.name or f"input_{i}") for i, t in enumerate(inputs)]
    shape = getattr(model, "_build_input_shape", None)
    if shape is not None and all(isinstance(d, int | type(None)) for d in shape):
        return [(tuple(shape), "float32", "input_0")]
    raise ExportError(
        "cannot tell the model's input shape: build or call the model first, or pass "
        "input_signature=[rnnkit.Input(shape=(None, features))]"
    )


def _loop_layers(model) -> list[str]:
    """Names of recurrent layers that would run on the generic loop (fixed length on export)."""
    names = []
    for m in model.modules():
        kind = getattr(m, "_fused_kind", None)
        if callable(kind) and hasattr(m, "cell") and (getattr(m, "_force_loop", False) or kind() is None):
            names.append(getattr(m, "name", type(m).__name__))
    return names


def _dummy(shape, dtype, fixed_time):
    sizes = []
    for axis, d in enumerate(shape):
        if d is None:
            if axis == 0:
                d = 2
            elif axis == 1 and fixed_time is None:
                d = 3  # ONNX keeps it dynamic; torch.export pins it
            else:
                raise ExportError(
                    f"input shape {shape} has an unknown axis {axis}; the model has recurrent "
                    f"layers on the generic loop ({fixed_time}), which export at a fixed sequence "
                    f"length: pass input_signature=[rnnkit.Input(shape=(T, ...))] with T known"
                    if fixed_time is not None
                    else f"input shape {shape} has an unknown axis {axis}; only the batch and time "
                    f"axes may be unknown: pass input_signature with the other sizes"
                )
        sizes.append(int(d))
    tdtype = getattr(torch, dtype.replace("torch.", ""), None)
    if not isinstance(tdtype, torch.dtype):
        raise ExportError(f"cannot export an input of dtype {dtype!r} (expected numbers)")
    if tdtype.is_floating_point:
        return torch.randn(sizes, generator=torch.Generator().manual_seed(0)).to(tdtype)
    return torch.ones(sizes, dtype=tdtype)  # valid token ids (and not the mask value 0)


def _torch_export(model, serving, dummies, dyn):
    """``torch.export`` the serving module: fused kernels first; with masks, the step loop.

    Packed sequences have data-dependent sizes that ``torch.export`` cannot trace, so a model with
    masks is exported with its recurrent layers on the generic loop (same numbers, tested).
    """
    try:
        return torch.export.export(serving, dummies, dynamic_shapes=dyn)
    except Exception:  # noqa: BLE001 - retried on the loop below, which raises if it fails too
        pass
    rnns = [m for m in model.modules() if hasattr(m, "_force_loop")]
    saved = [m._force_loop for m in rnns]
    try:
        for m in rnns:
            m._force_loop = True
        try:
            return torch.export.export(serving, dummies, dynamic_shapes=dyn)
        except Exception:  # noqa: BLE001 - a batch-size specialisation: export static shapes
            return torch.export.export(serving, dummies)
    finally:
        for m, v in zip(rnns, saved):
            m._force_loop = v


def export_model(model, filepath, format="onnx", input_signature=None, verbose=True, opset_version=17):
    """Write ``model`` for serving as ``format`` ``"onnx"`` or ``"torch"``; returns the path.

    Args:
        model: a built rnnkit model (or any rnnkit layer stack with known input shapes).
        filepath: where to write (replaced atomically; the previous file survives a failure).
        format: ``"onnx"`` (dynamic batch and, for fused recurrent layers, time axes) or ``"torch"``
            (a ``torch.export`` program, dynamic batch axis).
        input_signature: the inputs' shapes when the model cannot tell: ``rnnkit.Input`` tensors,
            example arrays or shape tuples (batch axis included, ``None`` for unknown sizes).
        verbose: print one line saying what was written.

    >>> import os, tempfile, numpy as np, rnnkit
    >>> from rnnkit import layers
    >>> model = rnnkit.Sequential([rnnkit.Input(shape=(None, 3)), layers.LSTM(4), layers.Dense(2)])
    >>> path = export_model(model, os.path.join(tempfile.mkdtemp(), "m.onnx"), verbose=False)
    >>> import onnxruntime as ort
    >>> sess = ort.InferenceSession(path)
    >>> x = np.random.rand(5, 7, 3).astype("float32")   # other batch and length than traced
    >>> bool(np.allclose(sess.run(None, {sess.get_inputs()[0].name: x})[0], model.predict(x, verbose=0), atol=1e-5))
    True
    """
    if format not in FORMATS:
        raise ExportError(f"format must be one of {FORMATS}, received {format!r}")
    filepath = os.fspath(filepath)
    if not filepath:
        raise ExportError("export needs a file path, received an empty string")
    specs = _signature(model, input_signature)
    loops = _loop_layers(model)
    fixed = loops or None
    if loops:
        warnings.warn(
            f"layers {loops} run on the generic loop: the exported model has a fixed sequence "
            f"length ({[s[0][1] if len(s[0]) > 1 else None for s in specs]})",
            stacklevel=2,
        )
    dummies = tuple(_dummy(shape, dtype, fixed) for shape, dtype, _ in specs)
    names = [f"input_{i}" if not n else str(n) for i, (_, _, n) in enumerate(specs)]
    serving = _Serving(model, len(specs))  # calls the model with training=False
    try:
        with fused.exporting(), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shape checks, exporter deprecations
            outputs = serving(*dummies)
            out_names = [f"output_{i}" for i in range(len(outputs))]
            if format == "onnx":
                dynamic = {}
                for name, (shape, _, _) in zip(names, specs):
                    axes = {0: "batch"}
                    if len(shape) > 1 and shape[1] is None and not loops:
                        axes[1] = "time"
                    dynamic[name] = axes
                for name, out in zip(out_names, outputs):
                    dynamic[name] = {0: "batch"}
                    if out.dim() > 2 and not loops and any(len(s) > 1 and s[1] is None for s, _, _ in specs):
                        dynamic[name][1] = "time"
                with atomic_write(filepath, "wb") as f:
                    torch.onnx.export(
                        serving, dummies, f, input_names=names, output_names=out_names,
                        dynamic_axes=dynamic, opset_version=opset_version, dynamo=False,
                    )
            else:
                batch = torch.export.Dim("batch", min=1)
                dyn = (tuple({0: batch} for _ in dummies),)  # forward(*xs): one entry, a tuple
                program = _torch_export(model, serving, dummies, dyn)
                with atomic_write(filepath, "wb") as f:
                    torch.export.save(program, f)
    except ExportError:
        raise
    except Exception as e:  # noqa: BLE001 - the exporter's own failure, named for the user
        raise ExportError(f"exporting {getattr(model, 'name', 'the model')} as {format} failed: {type(e).__name__}: {e}") from e
    if verbose:
        print(f"Exported {format} model to {filepath} (inputs {names}, outputs {out_names})")
    return filepath
