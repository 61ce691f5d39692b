"""Shared test helpers: the Keras fixtures and a spy on PyTorch's fused RNN kernels."""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import pytest
import torch

# Real Keras 3 (a test dependency) is the oracle for interop tests; it runs on its torch backend.
os.environ.setdefault("KERAS_BACKEND", "torch")

# What rnnkit keeps between runs (the data-set cache, Inductor's instruction sets) goes to a
# directory of this test session, never the user's ~/.rnnkit.
os.environ["RNNKIT_HOME"] = tempfile.mkdtemp(prefix="rnnkit-test-home-")

# Small tensors: one thread is faster and keeps the suite steady on a busy 2-core machine.
torch.set_num_threads(1)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def load_keras_cases():
    with open(os.path.join(FIXTURES, "keras", "cases.json")) as f:
        return json.load(f)


def load_keras_arrays(name):
    with np.load(os.path.join(FIXTURES, "keras", f"{name}.npz")) as z:
        return {k: z[k] for k in z.files}


class FusedSpy:
    """Counts calls of torch._VF.lstm / gru / rnn_tanh / rnn_relu."""

    def __init__(self, monkeypatch):
        self.calls: list[str] = []
        for name in ("lstm", "gru", "rnn_tanh", "rnn_relu"):
            real = getattr(torch._VF, name)

            def spy(*args, _real=real, _name=name, **kwargs):
                self.calls.append(_name)
                return _real(*args, **kwargs)

            monkeypatch.setattr(torch._VF, name, spy)


@pytest.fixture
def fused_spy(monkeypatch):
    return FusedSpy(monkeypatch)


# ------------------------------------------------------------------ compiled-runner tests
@pytest.fixture
def f64():
    """New layers get float64 weights and cast their inputs to float64."""
    import rnnkit

    old = rnnkit.config.floatx()
    rnnkit.config.set_floatx("float64")
    yield
    rnnkit.config.set_floatx(old)


@pytest.fixture
def aot(monkeypatch):
    """Compile with aot_eager (fast: no Inductor code generation) instead of Inductor."""
    from rnnkit.runners import compiled

    monkeypatch.setattr(compiled, "DEFAULT_BACKEND", "aot_eager")

