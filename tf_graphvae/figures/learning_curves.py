"""Learning curves of a comparison: the validation (and training) ELBO per epoch, per row."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from tf_graphvae.figures._common import _save

Curves = Mapping[str, Sequence[Mapping[str, Sequence[float]]]]
"""Row name -> one per-epoch history per seed (`history.json`'s `history`: `elbo`, and
`val_elbo` where the run validated)."""


def _check_curves(curves: Curves) -> dict[str, list[dict[str, np.ndarray]]]:
    if not curves:
        raise ValueError("curves is empty: it needs at least one row with one history.")
    checked = {}
    for row, histories in curves.items():
        if not histories:
            raise ValueError(f"Row {row!r} has no history.")
        checked[row] = []
        for k, history in enumerate(histories):
            if "elbo" not in history or not len(history["elbo"]):
                raise ValueError(f"History {k} of row {row!r} has no per-epoch 'elbo'.")
            arrays = {key: np.asarray(history[key], np.float64) for key in ("elbo", "val_elbo")
                      if key in history}  # fmt: skip
            checked[row].append(arrays)
    return checked


def build_learning_curves(curves: Curves, title: str = "", labels: Mapping[str, str] = None):
    """The figure: per row one colour, per seed one line of the validation ELBO (solid; the
    training ELBO, dashed, where no validation was logged), its best epoch marked.

    The y-axis starts at the lowest value any curve reaches after its first fifth, so the
    end of training, where the rows differ, is not flattened by the first epochs.
    """
    checked = _check_curves(curves)
    labels = dict(labels or {})
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.add_subplot()
    lows, highs = [], []
    for k, (row, histories) in enumerate(checked.items()):
        colour = matplotlib.colormaps["tab10"](k % 10)
        for s, history in enumerate(histories):
            key = "val_elbo" if "val_elbo" in history else "elbo"
            values = history[key]
            epochs = np.arange(1, len(values) + 1)
            label = f"{labels.get(row, row)} ({'validation' if key == 'val_elbo' else 'training'})"
            ax.plot(epochs, values, color=colour, lw=1.2, ls="-" if key == "val_elbo" else "--",
                    label=label if s == 0 else None)  # fmt: skip
            best = int(np.nanargmax(values))
            ax.plot(best + 1, values[best], "o", color=colour, ms=3)
            tail = values[len(values) // 5 :]
            lows.append(np.nanmin(tail))
            highs.append(np.nanmax(values))
    low, high = min(lows), max(highs)
    pad = 0.05 * max(high - low, 1e-6)
    if math.isfinite(low) and math.isfinite(high):
        ax.set_ylim(low - pad, high + pad)
    ax.set_xlabel("epoch")
    ax.set_ylabel("ELBO (nats per example)")
    ax.set_title(title or "Learning curves (dots: best epoch)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_learning_curves(
    curves: Curves, path: str | os.PathLike, title: str = "", labels: Mapping[str, str] = None
) -> Path:
    """Writes :func:`build_learning_curves` to `path` (PNG, atomically)."""
    return _save(build_learning_curves(curves, title, labels), path)
