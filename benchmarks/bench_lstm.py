"""Side-by-side training-step timings: rnnkit vs torch.nn.LSTM, in one process, as ratios.

One step = forward + backward + SGD update, on the same data, for
  torch.nn.LSTM | rnnkit LSTM (fused) | rnnkit RNN(LSTMCell) (fused: a built-in cell) |
  RNN(LSTMCell, use_cudnn=False) (the generic loop forced) | RNN(a user-written LSTM cell) (loop)
at (batch, time, features, units) = (64, 28, 28, 64) and (64, 100, 128, 256).
Also times ``model.fit`` for one epoch against a hand-written torch loop over the same model.

Run: ``python benchmarks/bench_lstm.py [--repeats 7] [--device cpu|cuda] [--quick]``.
Timings interleave the contenders and report medians; ratios are relative to torch.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import rnnkit
from rnnkit import layers


class UserLSTMCell(layers.Layer):
    """An LSTM cell as a user would write it from the Keras guide, with torch ops."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 4 * self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, 4 * self.units), initializer="orthogonal", name="recurrent_kernel"
        )
        self.bias = self.add_weight(shape=(4 * self.units,), initializer="zeros", name="bias")

    def call(self, inputs, states):
        h, c = states
        z = inputs @ self.kernel + h @ self.recurrent_kernel + self.bias
        i, f, g, o = z.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, [h, c]


class TorchLSTM(torch.nn.Module):
    def __init__(self, f, u):
        super().__init__()
        self.lstm = torch.nn.LSTM(f, u, batch_first=True)

    def forward(self, x):
        return self.lstm(x)[0][:, -1]


def make_step(model, x, y):
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()

    return step


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_fns(fns: dict, repeats: int, inner: int, device) -> dict:
    for fn in fns.values():  # warm up (builds lazy layers, caches)
        for _ in range(2):
            fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():  # interleaved: noise hits every contender alike
            sync(device)
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            sync(device)
            times[k].append((time.perf_counter() - t0) / inner)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_layers(B, T, F, U, repeats, device):
    torch.manual_seed(0)
    x = torch.randn(B, T, F, device=device)
    y = torch.randn(B, U, device=device)
    models = {
        "torch.nn.LSTM": TorchLSTM(F, U),
        "rnnkit LSTM": layers.LSTM(U),
        "rnnkit RNN(LSTMCell)": layers.RNN(layers.LSTMCell(U)),
        "rnnkit RNN(LSTMCell), loop": layers.RNN(layers.LSTMCell(U), use_cudnn=False),
        "rnnkit RNN(user cell)": layers.RNN(UserLSTMCell(U)),
    }
    fns = {}
    for name, m in models.items():
        m.to(device)
        m(x)  # build
        m.to(device)
        fns[name] = make_step(m, x, y)
    inner = 3 if T * U > 20000 else 10
    return time_fns(fns, repeats, inner, device)


def bench_fit(repeats, device, n=2048, B=64, T=28, F=28, U=64):
    """One epoch of model.fit vs a hand-written torch loop over the same model and data."""
    torch.manual_seed(0)
    x = np.random.rand(n, T, F).astype("float32")
    y = np.random.randint(0, 10, size=(n,))

    def build():
        model = rnnkit.Sequential([layers.LSTM(U), layers.Dense(10)])
        model.build((None, T, F))
        return model.to(device)

    fit_model, loop_model = build(), build()
    fit_model.compile(
        optimizer=rnnkit.optimizers.SGD(0.01),
        loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    xt, yt = torch.tensor(x), torch.tensor(y)
    opt = torch.optim.SGD(loop_model.parameters(), lr=0.01)

    def fit_epoch():
        fit_model.fit(x, y, batch_size=B, epochs=1, shuffle=True, verbose=0)

    def loop_epoch():
        perm = torch.randperm(n)
        for i in range(0, n, B):
            idx = perm[i : i + B]
            xb, yb = xt[idx].to(device), yt[idx].to(device)
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(loop_model(xb), yb)
            loss.backward()
            opt.step()

    return time_fns({"torch loop": loop_epoch, "model.fit": fit_epoch}, repeats, 1, device)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7,
                   help="interleaved timing repeats per contender; the median is reported "
                   "(default: %(default)s)")
    p.add_argument("--device", default="cpu",
                   help="torch device to time on, e.g. cpu or cuda (default: %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="only the small size (64, 28, 28, 64) and 3 repeats: a quick check")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    sizes = [(64, 28, 28, 64)] if args.quick else [(64, 28, 28, 64), (64, 100, 128, 256)]
    repeats = 3 if args.quick else args.repeats
    print(f"device: {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("training step = forward + backward + SGD update; median of interleaved repeats\n")
    print("| (B, T, F, U) | contender | ms / step | ratio to torch.nn.LSTM |")
    print("|---|---|---|---|")
    for B, T, F, U in sizes:
        res = bench_layers(B, T, F, U, repeats, device)
        base = res["torch.nn.LSTM"]
        for name, t in res.items():
            print(f"| ({B}, {T}, {F}, {U}) | {name} | {t * 1e3:.2f} | {t / base:.2f} |")
    res = bench_fit(repeats, device)
    base = res["torch loop"]
    print("\n| one epoch (2048 samples, LSTM(64)+Dense) | s / epoch | ratio to torch loop |")
    print("|---|---|---|")
    for name, t in res.items():
        print(f"| {name} | {t:.3f} | {t / base:.2f} |")


if __name__ == "__main__":
    main()
