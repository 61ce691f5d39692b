"""The fused runner: a whole sequence in one call to PyTorch's RNN kernels (cuDNN on a GPU).

``torch._VF.lstm`` / ``gru`` / ``rnn_tanh`` / ``rnn_relu`` run the entire loop in C++ (or cuDNN),
including the backward pass. Keras's weight layout is mapped to PyTorch's here and only here
(:func:`torch_params`); right- or left-padded masks run as packed sequences and are mapped back to
Keras's masking semantics (masked steps repeat the previous output, or give zeros).
"""

from __future__ import annotations

import contextlib

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

__all__ = [
    "torch_params",
    "mask_layout",
    "run_fused",
    "flatten_for_cudnn",
    "relayout_for_cpu",
    "is_cudnn_flat",
    "KERNELS",
    "exporting",
]

#: rnnkit kernel name -> name of the torch._VF function (looked up at call time).
KERNELS = {"rnn_tanh": "rnn_tanh", "rnn_relu": "rnn_relu", "lstm": "lstm", "gru": "gru"}

_ZEROS: dict = {}
_EXPORTING = [False]


@contextlib.contextmanager
def exporting():
    """Trace-friendly fused runs while a model is exported (ONNX / ``torch.export``).

    Inside, every mask is run as one contiguous block of valid steps per row (right- or
    left-padded, as ``pad_sequences`` makes them) by one formulation with no data-dependent Python
    branch, so the exported graph stays right for any batch, length and padding. Masks with holes
    in the middle are not expressible in an exported graph (the eager path falls back to the loop).
    """
    previous = _EXPORTING[0]
    _EXPORTING[0] = True
    try:
        yield
    finally:
        _EXPORTING[0] = previous


def _zeros(n: int, like: torch.Tensor) -> torch.Tensor:
    key = (n, like.dtype, like.device)
    z = _ZEROS.get(key)
    if z is None:
        z = torch.zeros(n, dtype=like.dtype, device=like.device)
        if type(z) is torch.Tensor:  # never keep a fake tensor made during shape inference
            _ZEROS[key] = z
    return z


def _gru_reorder(w: torch.Tensor) -> torch.Tensor:
    """Keras GRU gate blocks (z, r, h) -> PyTorch's (r, z, n) along the last axis."""
    z, r, h = w.chunk(3, dim=-1)
    return torch.cat([r, z, h], dim=-1)


def _gru_rows(w: torch.Tensor) -> torch.Tensor:
    """A Keras GRU kernel ``(X, 3u)`` as PyTorch's ``(3u, X)`` weight (gates r, z, n), contiguous:
    the gate blocks are concatenated as rows of ``w.t()`` (contiguous slices when ``w`` is stored
    transposed, see :func:`relayout_for_cpu`), so the kernel needs no further copy."""
    z, r, h = w.t().chunk(3, dim=0)
    return torch.cat([r, z, h], dim=0)


def relayout_for_cpu(cell) -> None:
    """Store a CPU cell's ``kernel`` / ``recurrent_kernel`` transposed in memory.

    The Keras-layout parameters keep their shapes ``(X, G)``; only their strides change, so that
    ``kernel.t()`` (PyTorch's ``(G, X)`` weight) is contiguous. The fused CPU kernel then reads the
    weights without copying them and hands back gradients already in the parameters' layout
    (measured: ~2% of an LSTM training step at (64, 28, 28, 64)). Called when the weights are
    built, before any optimizer sees them. (Like ``torch.nn.LSTM`` weights after
    ``flatten_parameters`` on CUDA, such parameters are not ``.view(-1)``-able:
    ``torch.nn.utils.parameters_to_vector`` needs ``reshape``; :func:`flatten_for_cudnn` does the
    same on CUDA.)
    """
    for name in ("kernel", "recurrent_kernel"):
        old = cell._parameters.get(name)
        if old is None or old.device.type != "cpu" or old.dim() != 2 or old.t().is_contiguous():
            continue
        new = type(old)(old.detach().t().contiguous().t(), requires_grad=old.requires_grad)
        new.__dict__.update(old.__dict__)  # name, path, trainable flag
        cell._parameters[name] = new


def torch_params(kind: str, cell) -> tuple[list[torch.Tensor], bool]:
    """Map a built-in cell's Keras-layout weights to ``torch._VF``'s ``[w_ih, w_hh, b_ih, b_hh]``.

    Layouts (``u`` = units, ``F`` = input features):

    - LSTM: Keras ``kernel (F, 4u)`` gates i, f, c, o == PyTorch ``weight_ih (4u, F)`` gates
      i, f, g, o, so ``w_ih = kernel.T``, ``w_hh = recurrent_kernel.T``, ``b_ih = bias``,
      ``b_hh = 0`` (Keras has a single bias).
    - GRU (reset_after=True only): Keras gates z, r, h -> PyTorch r, z, n; ``bias[0]`` is the
      input bias and ``bias[1]`` the recurrent bias, matching ``b_ih`` / ``b_hh``.
    - SimpleRNN: ``w_ih = kernel.T``, ``w_hh = recurrent_kernel.T``, ``b_ih = bias``, ``b_hh = 0``.

    Transposes are views on CPU (copies on CUDA, where cuDNN needs contiguous weights), and
    gradients flow back into the Keras-layout parameters.
    """
    k, rk, b = cell.kernel, cell.recurrent_kernel, cell.bias
    if kind == "gru":
        params = [_gru_rows(k), _gru_rows(rk)]
        if b is not None:
            params += [_gru_reorder(b[0]), _gru_reorder(b[1])]
    else:
        params = [k.t(), rk.t()]
        if b is not None:
            params += [b, _zeros(b.shape[0], b)]
    if k.is_cuda and kind != "gru" and is_cudnn_flat(cell):
        # The weights already live in one cuDNN-ordered buffer (see flatten_for_cudnn):
        # hand cuDNN the views, no copy at all.
        zeros = cell.__dict__["_cudnn_zeros"]
        return ([k.t(), rk.t()] + ([b, zeros] if b is not None else [])), b is not None
    if k.is_cuda:
        # cuDNN wants the weights as views of one contiguous buffer in this order; hand it one
        # (a single differentiable cat) so it neither warns nor compacts them on every call.
        flat = torch.cat([p.reshape(-1) for p in params])
        out, offset = [], 0
        for p in params:
            n = p.numel()
            out.append(flat[offset : offset + n].view(p.shape))
            offset += n
        params = out
    return params, b is not None


def is_cudnn_flat(cell) -> bool:
    """Whether the cell's weights are (still) views of its cuDNN buffer, in cuDNN's order."""
    flat = cell.__dict__.get("_cudnn_flat")
    if flat is None:
        return False
    k, rk, b = cell.kernel, cell.recurrent_kernel, cell.bias
    parts = [k.t(), rk.t()] + ([b] if b is not None else [])
    offset = flat.data_ptr()
    for p in parts:
        if p.data_ptr() != offset or not p.is_contiguous():
            return False
        offset += p.numel() * p.element_size()
    return True


def flatten_for_cudnn(cell) -> None:
    """Re-home an LSTM / SimpleRNN cell's CUDA weights as views of one cuDNN-ordered buffer.

    The Keras-layout parameters ``kernel (F, G)``, ``recurrent_kernel (u, G)``, ``bias (G,)``
    become transposed views of ``[w_ih (G, F) | w_hh (G, u) | b_ih | b_hh = 0]`` in one tensor,
    which is exactly what cuDNN reads: the fused call then copies nothing (``torch.nn.LSTM``'s
    ``flatten_parameters`` does the same). Called when the weights are created on, or moved to,
    a CUDA device, so optimizers built afterwards see the final parameters. GRU is left alone:
    its gate order differs between Keras and cuDNN, so no view can serve both.
    """

    k, rk, b = cell.kernel, cell.recurrent_kernel, cell.bias
    if not k.is_cuda or is_cudnn_flat(cell):
        return
    parts = [k.t(), rk.t()] + ([b, torch.zeros_like(b)] if b is not None else [])
    flat = torch.empty(sum(p.numel() for p in parts), dtype=k.dtype, device=k.device)
    views, offset = [], 0
    with torch.no_grad():
        for p in parts:
            v = flat[offset : offset + p.numel()].view(p.shape)
            v.copy_(p)
            views.append(v)
            offset += p.numel()
    for name, old, view in (
        ("kernel", k, views[0].t()),
        ("recurrent_kernel", rk, views[1].t()),
        ("bias", b, views[2] if b is not None else None),
    ):
        if old is None:
            continue
        new = type(old)(view, requires_grad=old.requires_grad)  # keeps rnnkit's Variable class
        new.__dict__.update(old.__dict__)  # name, path, trainable flag
        cell._parameters[name] = new
    cell.__dict__["_cudnn_flat"] = flat
    cell.__dict__["_cudnn_zeros"] = views[3] if b is not None else None


def mask_layout(mask: torch.Tensor | None):
    """Classify a ``(B, T)`` bool mask for the fused kernel.

    Returns ``("full", None)`` (no masking needed), ``("right", lengths)`` (each row is
    True then False), ``("left", lengths)`` (False then True), or ``None`` when the kernel cannot
    express the mask (holes in the middle, or a row with no valid step).
    """
    if mask is None:
        return "full", None
    if _EXPORTING[0]:
        return "block", None
    B, T = mask.shape
    lengths = mask.sum(1)
    if bool((lengths == T).all()):
        return "full", None
    if bool((lengths == 0).any()):
        return None
    steps = torch.arange(T, device=mask.device)
    if bool((mask == (steps < lengths[:, None])).all()):
        return "right", lengths
    if bool((mask == (steps >= (T - lengths)[:, None])).all()):
        return "left", lengths
    return None


def run_fused(
    kind: str,
    x: torch.Tensor,
    states: list[torch.Tensor],
    params: list[torch.Tensor],
    has_biases: bool,
    layout=("full", None),
    mask: torch.Tensor | None = None,
    zero_output_for_mask: bool = False,
    return_sequences: bool = True,
    training: bool = False,
):
    """Run ``kind`` over ``x`` ``(B, T, F)`` (batch first, processing order) in one kernel call.

    Same contract as :func:`rnnkit.runners.loop.run_loop`: returns
    ``(last_output, outputs or None, final_states)`` with Keras's masking semantics.
    """
    if x.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        # oneDNN's CPU RNN kernels reject bfloat16 / float16 under autocast: run in float32.
        with torch.autocast("cpu", enabled=False):
            f32 = [t.float() for t in [x, *states, *params]]
            x, states, params = f32[0], f32[1 : 1 + len(states)], f32[1 + len(states) :]
            return run_fused(
                kind,
                x,
                states,
                params,
                has_biases,
                layout,
                mask,
                zero_output_for_mask,
                return_sequences,
                training,
            )
    fn = getattr(torch._VF, KERNELS[kind])
    # The kernels' ``train`` flag only switches inter-layer dropout (unused: one layer, p=0) and
    # cuDNN's saved workspace, which the backward pass needs: set it whenever autograd records.
    train = torch.is_grad_enabled()
    B, T, F = x.shape
    hx = [s.unsqueeze(0) for s in states]  # (num_layers=1, B, H)
    hx_arg = tuple(hx) if kind == "lstm" else hx[0]
    style, lengths = layout
    if style == "full":
        res = fn(x, hx_arg, params, has_biases, 1, 0.0, train, False, True)
        out = res[0]
        final = [h.squeeze(0) for h in res[1:]]
        return out[:, -1], (out if return_sequences else None), final

    steps = torch.arange(T, device=x.device)
    if style == "block":
        return _run_block(fn, kind, x, hx, states, params, has_biases, mask, zero_output_for_mask, return_sequences, train)
    if style == "left":  # move each row's valid block to the front
        starts = T - lengths
        idx = (starts[:, None] + steps).clamp(max=T - 1)
        x = x.gather(1, idx[..., None].expand(B, T, F))
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    hx_sorted = [h.index_select(1, packed.sorted_indices) for h in hx]
    hx_arg = tuple(hx_sorted) if kind == "lstm" else hx_sorted[0]
    res = fn(packed.data, packed.batch_sizes, hx_arg, params, has_biases, 1, 0.0, train, False)
    final = [h.index_select(1, packed.unsorted_indices).squeeze(0) for h in res[1:]]
    out_packed = PackedSequence(
        res[0], packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
    )
    out, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=T)  # zeros past lengths
    last_valid = final[0]  # h at each row's last valid step == its last valid output
    H = out.shape[-1]
    valid = mask[..., None]
    if style == "right":
        if zero_output_for_mask:
            last = torch.where(mask[:, -1:], last_valid, torch.zeros_like(last_valid))
            outputs = out  # already zero past each length
        else:
            last = last_valid
            outputs = torch.where(valid, out, last_valid[:, None, :])
    else:  # left: valid outputs belong at the end, masked leading steps output zeros
        idx = (steps[None, :] - (T - lengths)[:, None]).clamp(min=0)
        outputs = torch.where(valid, out.gather(1, idx[..., None].expand(B, T, H)), 0.0)
        last = last_valid
    return last, (outputs if return_sequences else None), final


def _run_block(fn, kind, x, hx, states, params, has_biases, mask, zero_output_for_mask, return_sequences, train):
    """Any mask whose valid steps form one block per row, without data-dependent branches (export).

    Row ``b`` is valid on ``[start_b, start_b + length_b)``: the block moves to the front, runs as a
    packed sequence, and the outputs move back, with Keras's semantics around it (zeros before the
    block, the last valid output (or zeros) after it; a row with no valid step keeps its initial
    states and outputs zeros).
    """
    B, T, F = x.shape
    steps = torch.arange(T, device=x.device)
    lengths = mask.sum(1)
    starts = mask.to(torch.int64).argmax(1)  # first valid step (0 for a row with none)
    idx = (starts[:, None] + steps).clamp(max=T - 1)
    x = x.gather(1, idx[..., None].expand(B, T, F))
    packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
    hx_sorted = [h.index_select(1, packed.sorted_indices) for h in hx]
    hx_arg = tuple(hx_sorted) if kind == "lstm" else hx_sorted[0]
    res = fn(packed.data, packed.batch_sizes, hx_arg, params, has_biases, 1, 0.0, train, False)
    empty = (lengths == 0)[:, None]
    final = [
        torch.where(empty, s0, h.index_select(1, packed.unsorted_indices).squeeze(0))
        for s0, h in zip(states, res[1:])
    ]
    out_packed = PackedSequence(res[0], packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    out, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=T)
    last_valid = torch.where(empty, torch.zeros_like(final[0]), final[0])
    H = out.shape[-1]
    pos = (steps[None, :] - starts[:, None]).clamp(min=0, max=T - 1)
    back = out.gather(1, pos[..., None].expand(B, T, H))
    after = (steps[None, :] >= (starts + lengths)[:, None])[..., None]
    fill = torch.zeros_like(back) if zero_output_for_mask else torch.where(after, last_valid[:, None, :], 0.0)
    outputs = torch.where(mask[..., None], back, fill)
    last = torch.where(mask[:, -1:], last_valid, torch.zeros_like(last_valid)) if zero_output_for_mask else last_valid
    return last, (outputs if return_sequences else None), final
