"""The functional graph: from symbolic inputs and outputs to an ordered list of layer calls."""

from __future__ import annotations

from rnnkit.layers.layer import flatten, map_structure, pack_as
from rnnkit.models.symbolic import KerasTensor

__all__ = ["Graph"]


class Graph:
    """The layer calls that turn ``inputs`` into ``outputs``, in an order that respects data flow."""

    def __init__(self, inputs, outputs):
        self.input_structure = inputs
        self.inputs = flatten(inputs)
        self.output_structure = outputs
        self.outputs = flatten(outputs)
        for t in self.inputs + self.outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError(
                    f"Model(inputs, outputs) expects symbolic tensors (from rnnkit.Input and layer "
                    f"calls), received {type(t).__name__}"
                )
        for t in self.inputs:
            if t.node is not None:
                raise ValueError(f"model inputs must come from rnnkit.Input(); {t} is a layer output")
        self.nodes = self._toposort()
        known = {id(t) for t in self.inputs}
        for node in self.nodes:
            for t in node.inputs():
                if t.node is None and id(t) not in known:
                    raise ValueError(
                        f"the graph needs input {t.name!r} (shape {t.shape}), which is not among "
                        f"the model's inputs {[i.name for i in self.inputs]}"
                    )
        self.layers = []
        for node in self.nodes:
            if all(node.layer is not seen for seen in self.layers):
                self.layers.append(node.layer)

    def _toposort(self):
        order, done, visiting = [], set(), set()

        def visit(node):
            if id(node) in done:
                return
            if id(node) in visiting:
                raise ValueError("the functional graph has a cycle")
            visiting.add(id(node))
            for t in node.inputs():
                if t.node is not None:
                    visit(t.node)
            visiting.discard(id(node))
            done.add(id(node))
            order.append(node)

        for t in self.outputs:
            if t.node is not None:
                visit(t.node)
        return order

    def run(self, values: list, training=None):
        """Execute the graph on concrete tensors given in ``self.inputs`` order."""
        env = {id(t): v for t, v in zip(self.inputs, values)}

        def get(x):
            return env[id(x)] if isinstance(x, KerasTensor) else x

        for node in self.nodes:
            args = map_structure(get, list(node.args))
            kwargs = map_structure(get, dict(node.kwargs))
            if training is not None and "training" not in kwargs:
                kwargs["training"] = training
            out = node.layer(*args, **kwargs)
            for t, v in zip(flatten(node.outputs), flatten(out)):
                env[id(t)] = v
        return pack_as(self.output_structure, [env[id(t)] for t in self.outputs])
