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
    width = line_length or 80
    cols = [int(width * 0.45), int(width * 0.33), width - int(width * 0.45) - int(width * 0.33)]
    shapes = _output_shapes(model)
    rows = []
    for layer in model.layers:
        built = getattr(layer, "built", True)
        params = sum(p.numel() for p in layer.parameters()) if built else 0
        shape = _shape_str(shapes[id(layer)]) if id(layer) in shapes else "?"
        name = f"{layer.name} ({type(layer).__name__})"
        rows.append((name, shape, f"{params:,}" if built else "0 (unbuilt)"))
    lines = [f'Model: "{model.name}"', "┏" + "━" * (width - 2) + "┓"]

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
