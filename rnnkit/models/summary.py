"""``model.summary()``: Keras 3's table of layers, output shapes, parameter counts and connections.

The table has Keras's layout: box-drawn, one row per layer, rows separated by lines, long cells
wrapped at spaces (a word too long for its column is cut with ``…``). Functional models list their
``InputLayer``\\ s, and, unless the graph is a plain chain, a "Connected to" column naming each
input of a layer call as ``layer[node_index][tensor_index]``. Column widths follow Keras's
defaults (88 characters, 108 with "Connected to", at most the terminal width minus 4).
"""

from __future__ import annotations

import math
import re
import shutil

__all__ = ["summary"]

_DTYPE_BYTES = {"bool": 1, "uint8": 1, "int8": 1, "int16": 2, "float16": 2, "bfloat16": 2, "float64": 8, "int64": 8, "complex64": 8}


def _format_shape(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _layer_shape(layer) -> str:
    nodes = list(getattr(layer, "_inbound_nodes", ()))
    if nodes:
        shapes = [_format_shape(t.shape) for t in nodes[-1].output_tensors]  # Keras shows the last call
    else:
        built = getattr(layer, "_build_input_shape", None)
        if built is None or not hasattr(layer, "compute_output_shape"):
            return "?"
        try:
            out = layer.compute_output_shape(built)
        except Exception:  # noqa: BLE001 - no shape known: Keras prints "?"
            return "?"
        shapes = [_format_shape(s) for s in _flat_shapes(out)]
    if not shapes:
        return "?"
    if len(shapes) == 1:
        return shapes[0]
    return "[" + ", ".join(shapes) + "]"


def _flat_shapes(s) -> list:
    if isinstance(s, tuple | list) and all(d is None or isinstance(d, int) for d in s):
        return [tuple(s)]
    if isinstance(s, dict):
        return [x for v in s.values() for x in _flat_shapes(v)]
    return [x for v in s for x in _flat_shapes(v)]


def _count(weights) -> int:
    return int(sum(math.prod(tuple(w.shape)) for w in weights))


def _memory(weights) -> int:
    seen, total = set(), 0
    for w in weights:
        if id(w) in seen:
            continue
        seen.add(id(w))
        dtype = str(w.dtype).replace("torch.", "")
        total += math.prod(tuple(w.shape)) * _DTYPE_BYTES.get(dtype, 4)
    return total


def _readable(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap at spaces; a word longer than ``width`` is cut with an ellipsis."""
    lines, line = [], ""
    for word in re.findall(r"\s*\S+\s*", text) or [""]:  # a word carries its trailing spaces
        if line and len(line) + len(word.rstrip()) > width:
            lines.append(line)
            line = word
        else:
            line += word
    lines.append(line)
    out = []
    for ln in lines:
        ln = ln.rstrip()
        if len(ln) > width:
            ln = ln[: max(width - 1, 0)] + "…"
        out.append(ln)
    return out


def _reduce(widths: list[int], excess: int) -> list[int]:
    """Take ``excess`` characters off the columns, evenly, from the left."""
    out, remaining, n = [], excess, len(widths)
    for i, w in enumerate(widths):
        take = min(w, round(remaining / (n - i)))
        out.append(w - take)
        remaining -= take
    return out


def _table(header, alignment, widths, rows, line_length) -> list[str]:
    cells = [w + 2 for w in widths]  # one space of padding on either side
    excess = sum(cells) + len(cells) + 1 - line_length
    if excess > 0:
        cells = _reduce(cells, excess)

    def render(values, bar):
        wrapped = [_wrap(str(v), max(c - 2, 1)) for v, c in zip(values, cells)]
        height = max(len(w) for w in wrapped)
        out = []
        for i in range(height):
            parts = []
            for lines, c, align in zip(wrapped, cells, alignment):
                text = lines[i] if i < len(lines) else ""
                inner = c - 2
                text = text.rjust(inner) if align == "right" else text.center(inner) if align == "center" else text.ljust(inner)
                parts.append(" " + text + " ")
            out.append(bar + bar.join(parts) + bar)
        return out

    def rule(left, mid, right, fill):
        return left + mid.join(fill * c for c in cells) + right

    lines = [rule("┏", "┳", "┓", "━")]
    lines += render(header, "┃")
    lines.append(rule("┡", "╇", "┩", "━"))
    for i, row in enumerate(rows):
        if i:
            lines.append(rule("├", "┼", "┤", "─"))
        lines += render(row, "│")
    lines.append(rule("└", "┴", "┘", "─"))
    return lines


def _is_sequential_like(graph) -> bool:
    nodes = []
    for group in graph.nodes_by_depth.values():
        if len(group) > 1 or (len(group) == 1 and len(group[0].input_tensors) > 1):
            return False
        nodes += group
    for layer in graph.operations:
        if sum(1 for n in getattr(layer, "_inbound_nodes", ()) if any(n is m for m in nodes)) > 1:
            return False
    return True


def _connections(layer, relevant) -> str:
    parts = []
    for node in getattr(layer, "_inbound_nodes", ()):
        if relevant and not any(node is n for n in relevant):
            continue
        for t in node.input_tensors:
            source = t._mask_of if t._mask_of is not None else t
            history = source._keras_history
            if history is None:
                continue
            parts.append(f"{history.operation.name}[{history.node_index}][{history.tensor_index}]")
    return ", ".join(parts) if parts else "-"


def summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False, layer_range=None):
    """Print (or hand to ``print_fn`` as one string) Keras's summary table of ``model``.

    Args:
        model: a Sequential, functional or subclassed model.
        line_length: total width (default 88, or 108 with the "Connected to" column, at most
            the terminal width minus 4).
        positions: right edges of the columns as fractions of ``line_length``.
        print_fn: called once with the whole text (default: ``print``).
        expand_nested: also list the layers of nested models, indented.
        show_trainable: add a "Trainable" column.
        layer_range: ``[first, last]`` layer names (or regexes) to show, both included.

    >>> import rnnkit
    >>> from rnnkit import layers
    >>> x = rnnkit.Input(shape=(None, 3), name="x")
    >>> m = rnnkit.Model(x, layers.Dense(2, name="d")(layers.LSTM(4, name="l")(x)), name="m")
    >>> m.summary(line_length=60)
    Model: "m"
    ┏━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┓
    ┃ Layer (type)             ┃ Output Shape      ┃   Param # ┃
    ┡━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━┩
    │ x (InputLayer)           │ (None, None, 3)   │         0 │
    ├──────────────────────────┼───────────────────┼───────────┤
    │ l (LSTM)                 │ (None, 4)         │       128 │
    ├──────────────────────────┼───────────────────┼───────────┤
    │ d (Dense)                │ (None, 2)         │        10 │
    └──────────────────────────┴───────────────────┴───────────┘
     Total params: 138 (552.00 B)
     Trainable params: 138 (552.00 B)
     Non-trainable params: 0 (0.00 B)
    """
    graph = getattr(model, "_graph", None)
    relevant = []
    if graph is not None:
        layers = list(graph.operations)
        sequential_like = _is_sequential_like(graph)
        relevant = [n for group in graph.nodes_by_depth.values() for n in group]
    else:
        layers = list(model.layers)
        sequential_like = True
    if sequential_like:
        default, positions = 88, positions or [0.45, 0.80, 1.0]
        header, alignment = ["Layer (type)", "Output Shape", "Param #"], ["left", "left", "right"]
    else:
        default, positions = 108, positions or [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        alignment = ["left", "left", "right", "left"]
    if show_trainable:
        default += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header, alignment = header + ["Trainable"], alignment + ["center"]
    line_length = line_length or min(default, shutil.get_terminal_size().columns - 4)
    widths, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError(f"line_length={line_length} is too narrow to print the summary")
        widths.append(width)
        current += width

    def fields(layer, prefix=""):
        name = f"{prefix}{layer.name} ({type(layer).__name__})"
        if not getattr(layer, "built", True):
            params = "0 (unbuilt)"
        else:
            params = f"{_count(getattr(layer, 'weights', list(layer.parameters()))):,}"
        row = [name, _layer_shape(layer), params]
        if not sequential_like:
            row.append(_connections(layer, relevant))
        if show_trainable:
            has = bool(list(layer.parameters()))
            row.append(("Y" if getattr(layer, "trainable", True) else "N") if has else "-")
        return row

    def rows_of(layer, level=0):
        prefix = "   " * level + "└ " if level else ""
        out = [fields(layer, prefix)]
        inner = getattr(layer, "layers", None) if expand_nested else None
        if inner:
            for sub in inner:
                out += rows_of(sub, level + 1)
        return out

    if layer_range is not None:
        layers = _in_range(layers, layer_range)
    rows = [r for layer in layers for r in rows_of(layer)]
    lines = [f'Model: "{model.name}"'] + _table(header, alignment, widths, rows, line_length)
    trainable = list(getattr(model, "trainable_weights", []))
    non_trainable = list(getattr(model, "non_trainable_weights", []))
    t_count, n_count = _count(trainable), _count(non_trainable)
    opt_vars = _optimizer_variables(model)
    total = t_count + n_count + _count(opt_vars)
    total_mem = _memory(trainable) + _memory(non_trainable) + _memory(opt_vars)
    lines.append(f" Total params: {total:,} ({_readable(total_mem)})")
    lines.append(f" Trainable params: {t_count:,} ({_readable(_memory(trainable))})")
    lines.append(f" Non-trainable params: {n_count:,} ({_readable(_memory(non_trainable))})")
    if opt_vars:
        lines.append(f" Optimizer params: {_count(opt_vars):,} ({_readable(_memory(opt_vars))})")
    text = "\n".join(lines)
    if print_fn is None:
        print(text)
    else:
        print_fn(text + "\n")


def _optimizer_variables(model) -> list:
    """What Keras counts as the optimizer's variables: its iteration counter and learning rate,
    then every slot tensor (momenta, velocities ...) of the torch optimizer's state."""
    opt = getattr(model, "optimizer", None)
    if not getattr(model, "compiled", False) or opt is None or not getattr(opt, "built", False):
        return []
    variables = getattr(opt, "variables", None)
    if variables is not None:
        return list(variables)
    torch_opt = getattr(opt, "torch_optimizer", None)
    if torch_opt is None:
        return []
    import torch

    out = [torch.zeros(()), torch.zeros(())]  # iterations, learning_rate
    for state in torch_opt.state.values():
        # 0-d entries are torch's per-weight bookkeeping (step counts, NAdam's mu_product)
        out += [v for v in state.values() if isinstance(v, torch.Tensor) and v.dim() > 0]
    return out


def _in_range(layers, layer_range):
    if not (isinstance(layer_range, list | tuple) and len(layer_range) == 2):
        raise ValueError(f"layer_range must be [first_name, last_name], received {layer_range!r}")
    first = next((i for i, layer in enumerate(layers) if re.match(layer_range[0], layer.name)), None)
    last = next((i for i in range(len(layers) - 1, -1, -1) if re.match(layer_range[1], layers[i].name)), None)
    if first is None or last is None or last < first:
        raise ValueError(f"layer_range {list(layer_range)} matches no layers among {[la.name for la in layers]}")
    return layers[first : last + 1]
