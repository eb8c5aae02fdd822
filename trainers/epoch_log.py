"""`EpochLog`: the training progress the commands print, in place of Keras's `verbose=2`.

Keras's epoch lines print negative metrics in scientific notation (`elbo: -9.1233e+01`)
and say nothing of the time left. Here every epoch starts with `Epoch k/n` (as Keras's)
and ends with one line: the steps, the epoch's time, the time left at most (the remaining
epochs at this session's mean epoch time: early stopping may end sooner) and every metric
in fixed point. On a terminal a progress bar runs within the epoch.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

import keras

from tf_graphvae.progress import duration


def format_metrics(logs: dict) -> str:
    """`name: value` pairs in fixed point, 4 decimals (`elbo: -91.2336`)."""
    return " - ".join(f"{k}: {float(v):.4f}" for k, v in sorted(logs.items()))


class EpochLog(keras.callbacks.Callback):
    """One line per epoch, with its time and the time left; a bar within it on a terminal.

    Pass it to `fit` with `verbose=0`. Example:

        model.fit(ds, epochs=20, verbose=0, callbacks=[EpochLog()])

    Args:
        log: where the lines go (default: print to stdout, flushed).
        stream: the output whose being a terminal decides the bar (default stdout).
    """

    def __init__(self, log: Callable[[str], None] | None = None, stream: TextIO | None = None):
        super().__init__()
        self.log = log or (lambda line: print(line, flush=True))
        self.stream = stream or sys.stdout
        self._seconds: list[float] = []  # steady epoch times (compilation left out)
        self._bar = None
        self._first_call = None  # (time, steps done) at the session's first callback
        self._first_epoch_done = False

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.monotonic()
        self.log(f"Epoch {epoch + 1}/{self.params['epochs']}")
        steps = self.params.get("steps")
        if steps and getattr(self.stream, "isatty", lambda: False)():
            self._bar = keras.utils.Progbar(steps, verbose=1, unit_name="step")

    def on_train_batch_end(self, batch, logs=None):
        if self._first_call is None:
            self._first_call = (time.monotonic(), batch + 1)
        if self._bar is not None:
            self._bar.update(batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        end = time.monotonic()
        seconds = end - self._start
        steady = self._steady(seconds, end)
        if steady is not None:
            self._seconds.append(steady)
        self._bar = None
        left = self.params["epochs"] - (epoch + 1)
        eta = left * (sum(self._seconds) / len(self._seconds) if self._seconds else seconds)
        steps = self.params.get("steps")
        head = f"{steps}/{steps} steps - " if steps else ""
        tail = f", {left} epoch{'s' if left > 1 else ''} left: ETA {duration(eta)} at most"
        metrics = format_metrics(logs or {})
        tail = tail if left else ""
        self.log(f"{head}{seconds:.1f} s{tail}" + (f" - {metrics}" if metrics else ""))

    def _steady(self, seconds: float, end: float) -> float | None:
        """The epoch's time without compilation (None: not measurable). The session's first
        epoch is timed from its first compiled call, scaled to all its steps (XLA compiles
        before that call); when that call ended the epoch, it does not count."""
        if self._first_epoch_done:
            return seconds
        self._first_epoch_done = True
        steps, (start, done) = self.params.get("steps"), self._first_call or (None, None)
        if start is None or not steps or done >= steps:
            return None
        return (end - start) * steps / (steps - done)
