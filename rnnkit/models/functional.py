"""The functional graph: from symbolic inputs and outputs to ordered layer calls, as Keras orders them.

Walking back from the outputs through ``KerasTensor._keras_history`` gives the nodes (layer calls)
that the model needs. Layers are then ordered as Keras orders ``model.layers``: by *depth* (the
longest path from the layer's calls to an output), deepest first, ties broken by the order in which
the walk from the outputs first met each layer. ``InputLayer``\\ s are among them. Weights follow
that order (``model.weights`` is the layers' weights, layer by layer), so weight lists exchanged with
Keras line up.
"""

from __future__ import annotations

from rnnkit.layers.input_layer import InputLayer
from rnnkit.layers.layer import flatten, map_structure, pack_as
from rnnkit.layers.symbolic import KerasTensor

__all__ = ["Graph"]


class Graph:
    """The layer calls that turn ``inputs`` into ``outputs``.

    Attributes:
        inputs / outputs: flat lists of the symbolic inputs / outputs (an input that is an
            intermediate tensor of another graph is replaced by a new ``InputLayer``'s tensor).
        input_structure / output_structure: the structures as given.
        nodes: the layer calls (``InputLayer`` nodes excluded) in an order that respects data flow.
        operations: every layer including the ``InputLayer``\\ s, in Keras's ``model.layers`` order.
        layers: ``operations`` without the ``InputLayer``\\ s.

    >>> from rnnkit.layers import Input, Dense
    >>> a, b = Input(shape=(3,), name="a"), Input(shape=(3,), name="b")
    >>> shared = Dense(2, name="shared")
    >>> g = Graph([a, b], [shared(a), shared(b)])
    >>> [layer.name for layer in g.operations], len(g.nodes)
    (['a', 'b', 'shared'], 2)
    """

    def __init__(self, inputs, outputs):
        flat_inputs, flat_outputs = flatten(inputs), flatten(outputs)
        for where, flat in (("inputs", flat_inputs), ("outputs", flat_outputs)):
            for t in flat:
                if not isinstance(t, KerasTensor):
                    raise TypeError(
                        f"Model(inputs, outputs) expects symbolic tensors (from rnnkit.Input and "
                        f"layer calls) as {where}, received {type(t).__name__}"
                    )
        if not flat_inputs:
            raise ValueError("a functional Model needs at least one input")
        seen_in = set()
        for t in flat_inputs:
            if id(t) in seen_in:
                raise ValueError(f"the model's inputs hold {t.name!r} twice")
            seen_in.add(id(t))
        # Inputs that are intermediate tensors of another graph get their own InputLayer (as Keras
        # clones them); the walk stops at the original tensor, which stands for the new input.
        self._stand_in: dict[int, KerasTensor] = {}
        own_inputs = []
        for t in flat_inputs:
            if t.node is not None and t.node.is_input:
                own_inputs.append(t)
                continue
            layer = InputLayer(batch_shape=t.shape, dtype=t.dtype)
            self._stand_in[id(t)] = layer.output
            own_inputs.append(layer.output)
        self._given_inputs = flat_inputs
        self.inputs = own_inputs
        self.input_structure = pack_as(inputs, own_inputs) if self._stand_in else inputs
        self.outputs = flat_outputs
        self.output_structure = outputs
        self._order()

    # ----------------------------------------------------------------- ordering (Keras's rules)
    def _source(self, t):
        """The node a tensor comes from inside this graph (stand-ins for cloned inputs)."""
        stand = self._stand_in.get(id(t))
        return stand.node if stand is not None else t.node

    def _order(self):
        finished, in_progress = set(), set()
        ordered, first_seen = [], {}

        def visit(t):
            node = self._source(t)
            if node is None:
                raise ValueError(
                    f"the graph needs {t.name!r} (shape {t.shape}), a symbolic tensor that comes "
                    "from no rnnkit.Input or layer call"
                )
            if id(node) in finished:
                return
            if id(node) in in_progress:
                raise ValueError(f"the functional graph has a cycle through layer {node.layer.name!r}")
            first_seen.setdefault(id(node.layer), len(first_seen))
            in_progress.add(id(node))
            if not node.is_input:
                for x in node.input_tensors:
                    visit(x)
            in_progress.discard(id(node))
            finished.add(id(node))
            ordered.append(node)

        for t in self.outputs:
            visit(t)

        # Depth of a node: the longest path to an output; a layer takes its deepest node's depth.
        in_graph = {id(n) for n in ordered}
        node_depth, layer_depth, layers = {}, {}, {}
        for node in reversed(ordered):
            depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
            layer_depth[id(node.layer)] = depth
            layers[id(node.layer)] = node.layer
            node_depth[id(node)] = depth
            if node.is_input:
                continue
            for x in node.input_tensors:
                parent = self._source(x)
                if parent is not None and id(parent) in in_graph:
                    node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
        for t in self.inputs:  # inputs that no output needs still appear (Keras keeps them)
            layer = t.node.layer
            if id(layer) not in layer_depth:
                layer_depth[id(layer)], layers[id(layer)], first_seen[id(layer)] = 0, layer, -1
        self.operations = sorted(layers.values(), key=lambda op: (-layer_depth[id(op)], first_seen[id(op)]))
        self.layers = [op for op in self.operations if not isinstance(op, InputLayer)]
        self.nodes = [n for n in ordered if not n.is_input]
        self.nodes_by_depth = {}
        for n in ordered:
            self.nodes_by_depth.setdefault(node_depth[id(n)], []).append(n)

        # Every tensor a node needs must come from the inputs or an earlier node.
        known = {id(t) for t in self._given_inputs} | {id(t) for t in self.inputs}
        for node in self.nodes:
            for x in node.input_tensors:
                if id(x) not in known and not (x._mask_of is not None and id(x._mask_of) in known):
                    owner = x.node.layer.name if x.node is not None else "?"
                    raise ValueError(
                        f"Graph disconnected: layer {node.layer.name!r} needs {x.name!r} (an output "
                        f"of {owner!r}), which is not among the model's inputs "
                        f"{[i.name for i in self.inputs]} nor computed from them"
                    )
            known.update(id(t) for t in node.output_tensors)
        for t in self.outputs:
            if id(t) not in known:
                raise ValueError(f"Graph disconnected: output {t.name!r} cannot be computed from the inputs")

    def depth_of(self, node) -> int:
        """The depth of ``node`` (0 for nodes producing outputs only)."""
        for depth, nodes in self.nodes_by_depth.items():
            if any(n is node for n in nodes):
                return depth
        raise ValueError(f"{node} is not part of this graph")

    # ----------------------------------------------------------------- execution
    def run(self, values: list, training=None):
        """Execute the graph on concrete tensors given in ``self.inputs`` order."""
        env = {}
        for given, own, v in zip(self._given_inputs, self.inputs, values):
            env[id(given)] = env[id(own)] = v

        def get(x):
            if not isinstance(x, KerasTensor):
                return x
            if id(x) in env:
                return env[id(x)]
            if x._mask_of is not None:  # a mask passed on explicitly: the concrete tensor's mask
                return getattr(env[id(x._mask_of)], "_keras_mask", None)
            raise KeyError(x.name)

        for node in self.nodes:
            args = map_structure(get, list(node.args))
            kwargs = map_structure(get, dict(node.kwargs))
            if training is not None and "training" not in kwargs:
                kwargs["training"] = training
            out = node.layer(*args, **kwargs)
            for t, v in zip(flatten(node.outputs), flatten(out)):
                env[id(t)] = v
        return pack_as(self.output_structure, [env[id(t)] for t in self.outputs])
