"""``model.summary()``: Keras's table of layers, output shapes and parameter counts."""

from __future__ import annotations

from rnnkit.layers.layer import flatten

__all__ = ["summary"]


def _shape_str(x) -> str:
    leaves = [t for t in flatten(x) if hasattr(t, "shape")]
    shapes = [tuple(t.shape) for t in leaves]
    if not shapes:
        return "?"
    if len(shapes) == 1:
        return str(shapes[0]).replace(",)", ")")
    return "[" + ", ".join(str(s).replace(",)", ")") for s in shapes) + "]"


def _output_shapes(model) -> dict:
    out = {}
    graph = getattr(model, "_graph", None)
    if graph is not None:
        for node in graph.nodes:
            out[id(node.layer)] = node.outputs
    shapes = getattr(model, "_shapes", None)
    if shapes:
        for layer, s in zip(model.layers, shapes):
            out[id(layer)] = s
    return out


def summary(model, print_fn=None, line_length=None):
    """Print (or hand to ``print_fn``) the summary of ``model``."""
    print_fn = print_fn or print
    shapes = _output_shapes(model)
    rows = []
    for layer in model.layers:
        built = getattr(layer, "built", True)
        params = sum(p.numel() for p in layer.parameters()) if built else 0
        shape = _shape_str(shapes[id(layer)]) if id(layer) in shapes else "?"
        name = f"{layer.name} ({type(layer).__name__})"
        rows.append((name, shape, f"{params:,}" if built else "0 (unbuilt)"))
    # Columns grow to fit the longest entry, so names and shapes never run together.
    cols = [
        max(32, max((len(r[0]) for r in rows), default=0) + 2),
        max(26, max((len(r[1]) for r in rows), default=0) + 2),
        max(12, max((len(r[2]) for r in rows), default=0) + 1),
    ]
    width = max(line_length or 0, sum(cols))
    cols[2] = width - cols[0] - cols[1]
    lines = [f'Model: "{model.name}"', "━" * width]

    def fmt(a, b, c):
        return f"{a:<{cols[0]}}{b:<{cols[1]}}{c:>{cols[2]}}"

    lines.append(fmt("Layer (type)", "Output Shape", "Param #"))
    lines.append("━" * width)
    for r in rows:
        lines.append(fmt(*r))
    lines.append("━" * width)
    seen, total, trainable = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    lines.append(f" Total params: {total:,}")
    lines.append(f" Trainable params: {trainable:,}")
    lines.append(f" Non-trainable params: {total - trainable:,}")
    if not getattr(model, "built", True) or any(not getattr(layer, "built", True) for layer in model.layers):
        lines.append(" (the model is not fully built yet: call it on data or build(input_shape))")
    for line in lines:
        print_fn(line)
