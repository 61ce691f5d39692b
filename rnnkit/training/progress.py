"""Keras-like progress bar (``keras.utils.Progbar``) drawn with tqdm on ``sys.stdout``.

* ``verbose=1``: a live bar ``12/50 [bar] ETA: 1s - 20ms/step - loss: 0.1234``; the final
  line shows the total time instead of the ETA. When stdout is not a terminal (CI logs) tqdm
  redraws at most every ``non_tty_interval`` seconds, so logs are not flooded.
* ``verbose=2``: nothing while running, one line at the end:
  ``50/50 - 2s - 40ms/step - loss: 0.1234 - val_loss: 0.2345``.
* ``verbose=0``: silent.

As in Keras, values passed to :meth:`Progbar.update` are averaged over the steps seen, weighted
by the number of steps each update covers, except names listed in ``stateful_metrics`` (shown
as given) and the values of the finalizing update (shown as given, e.g. epoch logs).
"""

from __future__ import annotations

import math
import numbers
import sys
import time

from tqdm import tqdm

__all__ = ["Progbar"]


class _KerasTqdm(tqdm):
    """tqdm with an ``{info}`` field for Keras's right-hand text."""

    info = ""

    @property
    def format_dict(self):
        d = super().format_dict
        d["info"] = self.info
        return d


def _to_float(value):
    if isinstance(value, (str, bool)) or value is None:
        return value
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu()
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _format_time(seconds_per_unit: float, unit_name: str) -> str:
    if seconds_per_unit >= 1 or seconds_per_unit == 0:
        return f"{seconds_per_unit:.0f}s/{unit_name}"
    if seconds_per_unit >= 1e-3:
        return f"{seconds_per_unit * 1e3:.0f}ms/{unit_name}"
    return f"{seconds_per_unit * 1e6:.0f}us/{unit_name}"


def _format_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


class Progbar:
    """Progress bar over ``target`` steps showing running averages of logged values.

    >>> bar = Progbar(target=4, verbose=2)
    >>> for step in range(1, 5):
    ...     bar.update(step, [("loss", 1.0 / step)])
    4/4 - 0s - ...s/step - loss: 0.2500
    """

    def __init__(
        self,
        target,
        width=20,
        verbose=1,
        interval=0.05,
        stateful_metrics=None,
        unit_name="step",
        non_tty_interval=10.0,
    ):
        if target is not None and (
            isinstance(target, bool) or not isinstance(target, numbers.Integral) or target < 0
        ):
            raise ValueError(f"Progbar target must be an int >= 0 or None, received {target!r}")
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar verbose must be 0, 1 or 2, received {verbose!r}")
        self.target = None if target is None else int(target)
        self.width = int(width)
        self.verbose = verbose
        self.interval = float(interval)
        self.non_tty_interval = float(non_tty_interval)
        self.stateful_metrics = set(stateful_metrics or ())
        self.unit_name = unit_name
        self._values: dict[str, list] = {}
        self._values_order: list[str] = []
        self._seen_so_far = 0
        self._start = time.time()
        self._bar: _KerasTqdm | None = None
        self._finalized = False

    # ------------------------------------------------------------------ values
    def _record(self, values, current, finalize):
        if values is None:
            values = []
        elif isinstance(values, dict):
            values = list(values.items())
        for k, v in values:
            v = _to_float(v)
            if k not in self._values_order:
                self._values_order.append(k)
            numeric = isinstance(v, float)
            if numeric and k not in self.stateful_metrics and not finalize:
                weight = max(current - self._seen_so_far, 1)
                if k in self._values and self._values[k][1] is not None:
                    self._values[k][0] += v * weight
                    self._values[k][1] += weight
                else:
                    self._values[k] = [v * weight, weight]
            else:
                self._values[k] = [v, None]  # shown as given

    def _metrics_text(self) -> str:
        parts = []
        for k in self._values_order:
            total, count = self._values[k]
            value = total / count if count else total
            if isinstance(value, float):
                text = f"{value:.4f}" if abs(value) > 1e-3 or math.isnan(value) else f"{value:.4e}"
            else:
                text = str(value)
            parts.append(f" - {k}: {text}")
        return "".join(parts)

    def _time_per_unit(self, current) -> float:
        return (time.time() - self._start) / current if current else 0.0

    # ------------------------------------------------------------------ drawing
    def _make_bar(self):
        stream = sys.stdout
        tty = bool(getattr(stream, "isatty", lambda: False)())
        self._bar = _KerasTqdm(
            total=self.target,
            file=stream,
            bar_format=self._bar_format(final=False),
            mininterval=self.interval if tty else self.non_tty_interval,
            dynamic_ncols=False,
            leave=True,
        )

    def _bar_format(self, final: bool) -> str:
        if self.target is None:
            return "{n_fmt}/Unknown{info}"
        return "{n_fmt}/{total_fmt} {bar:" + str(self.width) + "}{info}"

    def update(self, current, values=None, finalize=None):
        """Move to step ``current`` (1-based) and record ``values`` (pairs or a dict).

        ``finalize`` defaults to ``current >= target`` (never, when the target is unknown).
        """
        if isinstance(current, bool) or not isinstance(current, numbers.Integral):
            raise TypeError(f"Progbar.update expects an int step, received {current!r}")
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._record(values, current, finalize)
        self._seen_so_far = current
        if self.verbose == 0 or self._finalized:
            return
        per_unit = self._time_per_unit(current)
        if self.verbose == 2:
            if finalize:
                target = self.target if self.target is not None else current
                digits = int(math.log10(max(target, 1))) + 1
                line = f"{current:{digits}d}/{target} - {time.time() - self._start:.0f}s"
                line += f" - {_format_time(per_unit, self.unit_name)}{self._metrics_text()}\n"
                sys.stdout.write(line)
                sys.stdout.flush()
                self._finalized = True
            return
        if self.non_tty_interval > 0 and not bool(getattr(sys.stdout, "isatty", lambda: False)()):
            # Not a terminal (a log file, CI): no redrawn bar, one finished line per run
            # (``non_tty_interval=0`` asks for live updates anyway).
            if finalize:
                target = self.target if self.target is not None else current
                elapsed = _format_duration(time.time() - self._start)
                line = f"{current}/{target} {'█' * self.width} {elapsed} "
                line += f"{_format_time(per_unit, self.unit_name)}{self._metrics_text()}\n"
                sys.stdout.write(line)
                sys.stdout.flush()
                self._finalized = True
            return
        if self._bar is None:
            self._make_bar()
        bar = self._bar
        if finalize:
            if self.target is None:
                self.target = current
                bar.total = current
            elapsed = _format_duration(time.time() - self._start)
            bar.bar_format = self._bar_format(final=True)
            bar.info = f" {elapsed} {_format_time(per_unit, self.unit_name)}{self._metrics_text()}"
            bar.n = current
            bar.close()
            self._finalized = True
            return
        if self.target is not None:
            eta = _format_duration(per_unit * max(self.target - current, 0))
            bar.info = f" ETA: {eta} - {_format_time(per_unit, self.unit_name)}"
        else:
            bar.info = f" {_format_time(per_unit, self.unit_name)}"
        bar.info += self._metrics_text()
        bar.update(current - bar.n)

    def add(self, n, values=None):
        """Advance by ``n`` steps."""
        self.update(self._seen_so_far + n, values)

    def close(self):
        """Close the tqdm bar without finalizing (e.g. when training is interrupted)."""
        if self._bar is not None and not self._finalized:
            self._bar.close()
            self._finalized = True
