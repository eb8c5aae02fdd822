"""`EpochLog`: the training progress the commands print, in place of Keras's `verbose=2`.

Keras's epoch lines print negative metrics in scientific notation (`elbo: -9.1233e+01`)
and say nothing of the time left. Here every epoch starts with `Epoch k/n` (as Keras's)
and ends with one line: the steps, the epoch's time, the time left at most (the remaining
epochs at this session's mean steady epoch time: early stopping may end sooner) and every
metric in fixed point. On a terminal a progress bar runs within the epoch.

The first epoch of every process (a fresh run or a resumed one) compiles the training step
(XLA: a minute or more) and the validation step: its time says "with compilation" and
never enters the ETA. Its steady time is estimated from the steps after its first compiled
call; when that call ran the whole epoch (`steps_per_execution` >= the epoch's steps), no
ETA is printed until the next epoch has been timed.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from typing import TextIO

import keras

from tf_graphvae.progress import duration

# Per-node KLs (`kl_z0`, `val_kl_z3`, ...): in the history, not in the epoch line, which
# would grow with N.
_PER_NODE = re.compile(r"(val_)?kl_z\d+")


def format_metrics(logs: dict) -> str:
    """`name: value` pairs in fixed point, 4 decimals (`elbo: -91.2336`), per-node KLs
    left out."""
    shown = sorted((k, v) for k, v in logs.items() if not _PER_NODE.fullmatch(k))
    return " - ".join(f"{k}: {float(v):.4f}" for k, v in shown)


def steps_done(batch: int, steps: int | None) -> int:
    """The steps an epoch has run after the call that ended at Keras's `batch` index.

    Keras reports a call's last index as `begin + steps_per_execution - 1` even where the
    epoch ends within the call (25 with 12 steps per epoch): clamped to the epoch's steps.
    """
    return min(batch + 1, steps) if steps else batch + 1


def first_epoch_steady(
    first_call: tuple[float, int] | None, last_call: tuple[float, int] | None
) -> float | None:
    """A compiling epoch's time without compilation, from `(time, steps done)` after its
    first and last training calls (None: a single call, nothing steady to measure).

    The time per step after the first call, times all the epoch's steps. The validation
    after the last call is left out: its first pass compiles too.
    """
    if first_call is None or last_call is None or last_call[1] <= first_call[1]:
        return None
    (start, done), (end, total) = first_call, last_call
    return (end - start) * total / (total - done)


class EpochLog(keras.callbacks.Callback):
    """One line per epoch, with its time and the time left; a bar within it on a terminal.

    Pass it to `fit` with `verbose=0`. Example:

        model.fit(ds, epochs=20, verbose=0, callbacks=[EpochLog()])

    Args:
        log: where the lines go (default: print to stdout, flushed).
        stream: the output whose being a terminal decides the bar (default stdout).
        clock: seconds from a fixed origin (default `time.monotonic`; tests pass a fake).
    """

    def __init__(
        self,
        log: Callable[[str], None] | None = None,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__()
        self.log = log or (lambda line: print(line, flush=True))
        self.stream = stream or sys.stdout
        self.clock = clock
        self._seconds: list[float] = []  # steady epoch times (compilation left out)
        self._bar = None
        self._compiling = True  # the process's first epoch compiles, resumed or not
        self._first_call: tuple[float, int] | None = None  # (time, steps done) this epoch
        self._last_call: tuple[float, int] | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self.clock()
        self._first_call = self._last_call = None
        self.log(f"Epoch {epoch + 1}/{self.params['epochs']}")
        steps = self.params.get("steps")
        if steps and getattr(self.stream, "isatty", lambda: False)():
            self._bar = keras.utils.Progbar(steps, verbose=1, unit_name="step")

    def on_train_batch_end(self, batch, logs=None):
        done = steps_done(batch, self.params.get("steps"))
        self._last_call = (self.clock(), done)
        if self._first_call is None:
            self._first_call = self._last_call
        if self._bar is not None:
            self._bar.update(done)

    def on_epoch_end(self, epoch, logs=None):
        seconds = self.clock() - self._start
        compiled = self._compiling
        steady = first_epoch_steady(self._first_call, self._last_call) if compiled else seconds
        self._compiling = False
        if steady is not None:
            self._seconds.append(steady)
        self._bar = None
        steps = self.params.get("steps")
        head = f"{steps}/{steps} steps - " if steps else ""
        head += f"{seconds:.1f} s" + (" with compilation" if compiled else "")
        metrics = format_metrics(logs or {})
        left = self.params["epochs"] - (epoch + 1)
        self.log(head + self._time_left(left) + (f" - {metrics}" if metrics else ""))

    def _time_left(self, left: int) -> str:
        """`, n epochs left: ETA 2m18s at most`; no ETA before a steady time; "" at the end."""
        if not left:
            return ""
        tail = f", {left} epoch{'s' if left > 1 else ''} left"
        if not self._seconds:
            return tail + ": ETA after the next epoch"
        return tail + f": ETA {duration(left * sum(self._seconds) / len(self._seconds))} at most"
