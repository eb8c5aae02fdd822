"""Progress of long loops: a bar on a terminal, rate-limited lines with an ETA elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TextIO

DEFAULT_INTERVAL = 30.0  # seconds between lines when the output is a file


def duration(seconds: float) -> str:
    """`1m05s`, or `2h03m` from an hour on."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class Progress:
    """Reports `done` of `total` items.

    On a terminal: Keras's progress bar. Otherwise (a log file, a pipe): one line at most
    every `interval` seconds, and one at the end, `label: done/total unit (rate/s), ETA`.

    Args:
        total: the number of items.
        label: what is being done.
        unit: the items' name, plural.
        enabled: False: nothing is shown.
        stream: where the lines go (default stderr).
        interval: seconds between lines off a terminal.
    """

    def __init__(
        self,
        total: int,
        label: str,
        unit: str = "images",
        enabled: bool = True,
        stream: TextIO | None = None,
        interval: float = DEFAULT_INTERVAL,
    ):
        self.total, self.label, self.unit = int(total), label, unit
        self.stream = stream or sys.stderr
        self.interval = float(interval)
        self.enabled = bool(enabled)
        self.start = self.last = time.monotonic()
        self.bar = None
        if self.enabled and getattr(self.stream, "isatty", lambda: False)():
            import keras

            self.bar = keras.utils.Progbar(self.total, unit_name=unit.removesuffix("s"))

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(done)
            return
        now = time.monotonic()
        if done < self.total and now - self.last < self.interval:
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        tail = f"ETA {duration(eta)}" if done < self.total else f"done in {duration(elapsed)}"
        print(
            f"{self.label}: {done}/{self.total} {self.unit} ({rate:.1f}/s), {tail}",
            file=self.stream,
            flush=True,
        )
