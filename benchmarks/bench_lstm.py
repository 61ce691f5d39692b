"""Side-by-side training-step timings: rnnkit vs torch.nn.LSTM / GRU (and Keras 3), as ratios.

One step = forward + backward + SGD update on the same data. Contenders, per shape
(batch, time, features, units) = (64, 28, 28, 64) and (64, 100, 128, 256) on CPU; on CUDA
(64, 28, 28, 64), (64, 100, 512, 512), (16, 500, 256, 256) and (256, 100, 512, 1024) (``--shapes``
chooses others):

- ``torch.nn.LSTM`` (the baseline of the LSTM rows) and ``torch.nn.GRU`` (of the GRU rows);
- rnnkit ``LSTM`` and ``GRU`` (fused kernels), ``RNN(LSTMCell)`` (a built-in cell: fused too);
- rnnkit ``RNN(user-written LSTM cell)`` on the eager loop and with ``jit_compile=True``
  (steady state here; the compile time is its first step minus a steady step, reported apart);
- when ``keras`` is installed: Keras 3's ``LSTM`` and ``RNN(LSTMCell)`` on its torch backend
  (``KERAS_BACKEND=torch``), stepped by the same torch SGD.

Also times ``model.fit`` for one epoch against a hand-written torch loop over the same model.
Timings interleave the contenders (noise from other processes hits all of them alike); each
repeat gives one ratio per contender, and the table shows the median ratio and the range over
repeats. The compiler cache (``TORCHINDUCTOR_CACHE_DIR``) is a fresh empty directory unless
``--warm-cache`` is given, so no kernel comes from an earlier run; but the process may have
compiled before (later shapes run after the first), and Inductor's precompiled header (kept
outside that directory) may be built already: ``bench_compile.py`` times the cold compile in
fresh processes, with and without that header.

Writes ``<out-dir>/bench_lstm_<device>.md`` (the table) and ``bench_lstm_<device>.png``.

Run: ``python benchmarks/bench_lstm.py [--repeats 7] [--device cpu|cuda] [--quick]
[--shapes 64,28,28,64 16,500,256,256]``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings

if "--warm-cache" not in sys.argv:  # before torch / Inductor read it
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="rnnkit-bench-inductor-")
os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit import layers  # noqa: E402


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


class TorchRNN(torch.nn.Module):
    """``torch.nn.LSTM`` / ``GRU``, batch first, returning the last output."""

    def __init__(self, cls, f, u):
        super().__init__()
        self.rnn = cls(f, u, batch_first=True)

    def forward(self, x):
        return self.rnn(x)[0][:, -1]


def make_step(model, x, y):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()

    return step


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_fns(fns: dict, repeats: int, inner: int, device) -> tuple[dict, dict]:
    """Interleaved timings: ``{name: [seconds per step, one per repeat]}`` and first-step times."""
    first = {}
    for k, fn in fns.items():  # first step (builds lazy layers, compiles), then one warm-up
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        first[k] = time.perf_counter() - t0
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            sync(device)
            times[k].append((time.perf_counter() - t0) / inner)
    return times, first


def keras_models(U):
    """Keras 3 contenders (torch backend), or {} when keras is not installed / not on torch."""
    try:
        import keras
    except ImportError:
        return {}
    if keras.backend.backend() != "torch":
        return {}

    class KerasLast(torch.nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.layer = layer

        def forward(self, x):
            return self.layer(x)

    return {
        "Keras 3 LSTM": KerasLast(keras.layers.LSTM(U)),
        "Keras 3 RNN(LSTMCell)": KerasLast(keras.layers.RNN(keras.layers.LSTMCell(U))),
    }


CPU_SHAPES = [(64, 28, 28, 64), (64, 100, 128, 256)]
CUDA_SHAPES = [(64, 28, 28, 64), (64, 100, 512, 512), (16, 500, 256, 256), (256, 100, 512, 1024)]


def parse_shape(text):
    """``"64,28,28,64"`` -> ``(64, 28, 28, 64)`` (batch, time, features, units)."""
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"a shape is four positive integers B,T,F,U; received {text!r}")
    return shape


# contender -> (family, baseline)
LSTM_BASE, GRU_BASE = "torch.nn.LSTM", "torch.nn.GRU"


def bench_layers(B, T, F, U, repeats, device, with_keras=True):
    torch.manual_seed(0)
    x = torch.randn(B, T, F, device=device)
    y = torch.randn(B, U, device=device)
    models = {
        LSTM_BASE: TorchRNN(torch.nn.LSTM, F, U),
        GRU_BASE: TorchRNN(torch.nn.GRU, F, U),
        "rnnkit LSTM": layers.LSTM(U),
        "rnnkit GRU": layers.GRU(U),
        "rnnkit RNN(LSTMCell)": layers.RNN(layers.LSTMCell(U)),
        "rnnkit RNN(user cell), eager": layers.RNN(UserLSTMCell(U)),
        "rnnkit RNN(user cell), jit_compile": layers.RNN(UserLSTMCell(U), jit_compile=True),
    }
    if with_keras:
        models.update(keras_models(U))
    fns = {}
    for name, m in models.items():
        m.to(device)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (jit_compile: "shorter than the compiled chunk")
            m(x[:2, :1])  # build lazy weights, on a tiny input (no compile: T < chunk)
        m.to(device)
        fns[name] = make_step(m, x, y)
    inner = 3 if T * U > 20000 else 10
    times, first = time_fns(fns, repeats, inner, device)
    rows = []
    for name, ts in times.items():
        base = GRU_BASE if "GRU" in name else LSTM_BASE
        ratios = [t / b for t, b in zip(ts, times[base])]
        row = {
            "shape": (B, T, F, U),
            "name": name,
            "baseline": base,
            "ms": statistics.median(ts) * 1e3,
            "ratio": statistics.median(ratios),
            "lo": min(ratios),
            "hi": max(ratios),
            "compile_s": None,
        }
        if "jit_compile" in name:
            row["compile_s"] = first[name] - statistics.median(ts)
        rows.append(row)
    return rows


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

    times, _ = time_fns({"torch loop": loop_epoch, "model.fit": fit_epoch}, repeats, 1, device)
    ratios = [f / t for f, t in zip(times["model.fit"], times["torch loop"])]
    return {k: statistics.median(v) for k, v in times.items()}, ratios


def table(rows, header):
    lines = [header, "", "| (B, T, F, U) | contender | ms / step | ratio (median) | ratio range | cold compile s |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        comp = f"{r['compile_s']:.1f}" if r["compile_s"] is not None else ""
        lines.append(
            f"| {r['shape']} | {r['name']} | {r['ms']:.2f} | {r['ratio']:.2f} x {r['baseline']} | "
            f"{r['lo']:.2f}-{r['hi']:.2f} | {comp} |"
        )
    return "\n".join(lines)


def plot(rows, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shapes = sorted({r["shape"] for r in rows}, key=lambda s: s[1] * s[3])
    names = [r["name"] for r in rows if r["shape"] == shapes[0] and r["name"] not in (LSTM_BASE, GRU_BASE)]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(names) * len(shapes) + 1.5))
    h = 0.8 / len(shapes)
    for j, shape in enumerate(shapes):
        by = {r["name"]: r for r in rows if r["shape"] == shape}
        ys = [i + j * h for i in range(len(names))]
        vals = [by[n]["ratio"] for n in names]
        err = [[by[n]["ratio"] - by[n]["lo"] for n in names], [by[n]["hi"] - by[n]["ratio"] for n in names]]
        ax.barh(ys, vals, height=h, xerr=err, capsize=2, label=f"(B, T, F, U) = {shape}")
        for yy, v in zip(ys, vals):
            ax.text(v + 0.03, yy, f"{v:.2f}", va="center", fontsize=8)
    ax.set_yticks([i + h * (len(shapes) - 1) / 2 for i in range(len(names))])
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xlabel("training step time / torch.nn counterpart (LSTM or GRU); bars: range over repeats")
    ax.set_title(title.replace("; training", "\ntraining"), fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7, help="interleaved repeats per shape (default 7)")
    p.add_argument("--device", default="cpu", help="torch device to run on: cpu (default) or cuda")
    p.add_argument("--quick", action="store_true", help="small shape only, 3 repeats")
    p.add_argument("--shapes", nargs="+", type=parse_shape, default=None, metavar="B,T,F,U",
                   help="shapes to time (default: two CPU shapes, or four on CUDA)")
    p.add_argument("--no-keras", action="store_true", help="leave out Keras 3 even when installed")
    p.add_argument("--no-fit", action="store_true", help="skip the model.fit vs torch loop epoch")
    p.add_argument("--warm-cache", action="store_true",
                   help="keep the default Inductor cache (compile times are then warm, not cold)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: torch's choice); 1 is steadier on a busy machine")
    p.add_argument("--out-dir", default=os.path.join(os.path.dirname(__file__), "results"),
                   help="where to write the markdown table and the PNG (default benchmarks/results)")
    args = p.parse_args(argv)
    try:
        device = torch.device(args.device)
    except RuntimeError:
        p.error(f"--device: expected a torch device such as cpu or cuda, received {args.device!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: this torch sees no CUDA device (torch.cuda.is_available() is False)")
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = args.shapes or (CUDA_SHAPES if device.type == "cuda" else CPU_SHAPES)
    if args.quick:
        sizes = sizes[:1]
    repeats = 3 if args.quick else args.repeats
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = (
        torch.cuda.get_device_name(device) if device.type == "cuda"
        else f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )
    header = (
        f"{stamp}; {machine}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"training step = forward + backward + SGD; {repeats} interleaved repeats"
    )
    print(header, flush=True)
    rows = []
    for B, T, F, U in sizes:
        shape_rows = bench_layers(B, T, F, U, repeats, device, with_keras=not args.no_keras)
        print(table(shape_rows, f"({B}, {T}, {F}, {U})"), flush=True)  # as it goes: a long run shows its progress
        rows += shape_rows
    text = table(rows, header)
    if not args.no_fit:
        med, ratios = bench_fit(repeats, device)
        text += (
            "\n\n| one epoch (2048 samples, LSTM(64)+Dense) | s / epoch | ratio to torch loop |\n"
            "|---|---|---|\n"
            f"| torch loop | {med['torch loop']:.3f} | 1.00 |\n"
            f"| model.fit | {med['model.fit']:.3f} | {statistics.median(ratios):.2f} "
            f"({min(ratios):.2f}-{max(ratios):.2f}) |"
        )
    print(text)
    os.makedirs(args.out_dir, exist_ok=True)
    base = os.path.join(args.out_dir, f"bench_lstm_{device.type}")
    with open(base + ".md", "w") as f:
        f.write(text + "\n")
    plot(rows, base + ".png", header)
    print(f"\nwrote {base}.md and {base}.png")


if __name__ == "__main__":
    main()
