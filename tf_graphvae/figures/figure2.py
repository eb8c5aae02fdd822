"""Figure 2: edge-probability trajectories during training and one sampled structure (DAG)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch
from matplotlib.ticker import MaxNLocator

from tf_graphvae.figures._common import (
    RGBA,
    _gates,
    _present_edges,
    _probabilities,
    _save,
    edge_colors,
    edge_label,
)

# --------------------------------------------------------------------------------------------
# Figure 2: edge-probability trajectories and one sampled structure
# --------------------------------------------------------------------------------------------


def _node_positions(num_nodes: int) -> np.ndarray:
    """Nodes on a circle, the root `N-1` at the top, then clockwise `N-2, ..., 0`.

    Nodes in convex position keep every straight edge clear of the other nodes.
    """
    k = np.arange(num_nodes)
    angles = np.pi / 2 - 2 * np.pi * (num_nodes - 1 - k) / num_nodes
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _draw_structure(ax, gates: np.ndarray, colours: Mapping[tuple[int, int], RGBA]) -> None:
    num_nodes = gates.shape[0]
    positions = _node_positions(num_nodes)
    radius = 0.2 if num_nodes <= 2 else min(0.2, 0.75 * math.sin(math.pi / num_nodes))
    fontsize = max(6.0, min(12.0, 60.0 * radius))
    circles = []
    for k in range(num_nodes):
        circle = Circle(
            positions[k],
            radius,
            facecolor="white",
            edgecolor="black",
            lw=1.2,
            zorder=3,
            gid=f"node-{k}",
        )
        ax.add_patch(circle)
        circles.append(circle)
        ax.text(
            *positions[k], f"$z_{{{k}}}$", ha="center", va="center", fontsize=fontsize, zorder=4
        )
    for i, j in _present_edges(gates):
        ax.add_patch(
            FancyArrowPatch(
                posA=tuple(positions[i]),
                posB=tuple(positions[j]),
                patchA=circles[i],
                patchB=circles[j],
                shrinkA=1.0,
                shrinkB=2.0,
                arrowstyle="-|>",
                mutation_scale=16,
                connectionstyle="arc3,rad=0.15",
                color=colours[(i, j)],
                lw=2.2,
                zorder=2,
                gid=f"edge-{i}-{j}",
            )
        )
    limit = 1.0 + radius + 0.12
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_axis_off()


def _check_history(edge_history: Sequence[Any]) -> np.ndarray:
    """The edge history as one `[T, N, N]` array of probabilities, or a ValueError."""
    if edge_history is None or len(edge_history) == 0:
        raise ValueError("edge_history is empty: it needs at least one [N, N] matrix.")
    history = [_probabilities(mu, f"edge_history[{t}]") for t, mu in enumerate(edge_history)]
    shapes = {mu.shape for mu in history}
    if len(shapes) != 1:
        raise ValueError(f"edge_history holds matrices of inconsistent shapes {sorted(shapes)}.")
    return np.stack(history)


def _check_epochs(epochs: Sequence[float] | None, count: int) -> np.ndarray:
    """The x values of the trajectories: `epochs`, or `0, 1, ...` when it is None."""
    if epochs is None:
        return np.arange(count, dtype=np.float64)
    x = np.asarray(epochs, dtype=np.float64).reshape(-1)
    if x.shape[0] != count:
        raise ValueError(f"epochs has {x.shape[0]} values but edge_history has {count} entries.")
    return x


def _draw_trajectories(
    ax, x: np.ndarray, history: np.ndarray, colours: Mapping[tuple[int, int], RGBA]
) -> None:
    """Panel (a): one line per possible edge, the 0.5 threshold and the legend."""
    num_edges = len(colours)
    marker = "o" if len(history) <= 25 else None
    for (i, j), colour in colours.items():
        ax.plot(
            x,
            history[:, i, j],
            color=colour,
            lw=1.8,
            marker=marker,
            markersize=3,
            label=edge_label(i, j),
            gid=f"edge-{i}-{j}",
        )
    ax.axhline(0.5, color="0.6", lw=0.8, ls=":", zorder=0, gid="threshold")
    ax.set_ylim(-0.03, 1.03)
    if len(x) > 1 and x[-1] != x[0]:
        span = x.max() - x.min()
        ax.set_xlim(x.min() - 0.02 * span, x.max() + 0.02 * span)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(r"edge probability $\mu_{ij}$")
    ax.set_title("(a) edge probabilities during training", fontsize=11)
    ax.grid(alpha=0.25)
    if num_edges:
        rows = 12 if num_edges <= 36 else 18
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
            ncols=math.ceil(num_edges / rows),
            fontsize=9 if num_edges <= 12 else 7,
            frameon=False,
            handlelength=1.5,
            columnspacing=1.0,
        )


def build_figure2(
    edge_history: Sequence[Any],
    sampled_gates: Any,
    title: str | None = None,
    epochs: Sequence[float] | None = None,
) -> Figure:
    """Builds the paper's Figure 2 without saving it (see `plot_figure2`).

    Panel (a) is `fig.axes[0]`: one `Line2D` per possible edge, with `gid` `"edge-i-j"`, the
    colour of `edge_colors(N)[(i, j)]` and the label `edge_label(i, j)`. Panel (b) is
    `fig.axes[1]`: node circles (`gid` `"node-k"`) and one `FancyArrowPatch` per present edge
    (`gid` `"edge-i-j"`, same colour as its trajectory).

    Args:
        edge_history: A non-empty sequence of `[N, N]` edge-probability matrices `mu`,
            entry 0 before training.
        sampled_gates: A `[N, N]` 0/1 matrix; `[i, j] = 1` means edge `i -> j` is present.
        title: An optional figure title.
        epochs: Optional x values, one per history entry; defaults to `0, 1, ...`.

    Returns:
        The Matplotlib `Figure`.

    Raises:
        ValueError: On an empty or inconsistently shaped history, a non-square matrix,
            probabilities outside [0, 1], a gate set on `i <= j`, a gate matrix of another
            size than the history, or `epochs` of the wrong length.
    """
    history = _check_history(edge_history)
    num_nodes = history.shape[1]
    gates = _gates(sampled_gates, "sampled_gates")
    if gates.shape[0] != num_nodes:
        raise ValueError(
            f"sampled_gates has shape {gates.shape} but edge_history has {num_nodes} nodes."
        )
    x = _check_epochs(epochs, len(history))

    colours = edge_colors(num_nodes)
    fig = Figure(figsize=(11.0, 4.8), layout="constrained")
    grid = fig.add_gridspec(1, 2, width_ratios=[1.75, 1.0])
    ax_a = fig.add_subplot(grid[0, 0])
    ax_b = fig.add_subplot(grid[0, 1])
    _draw_trajectories(ax_a, x, history, colours)
    _draw_structure(ax_b, gates, colours)
    ax_b.set_title("(b) sampled structure", fontsize=11)
    if title:
        fig.suptitle(title)
    return fig


def plot_figure2(
    edge_history: Sequence[Any],
    sampled_gates: Any,
    path: str | os.PathLike,
    title: str | None = None,
    epochs: Sequence[float] | None = None,
) -> Path:
    """Writes the paper's Figure 2: edge-probability trajectories and one sampled structure.

    Panel (a) draws every `mu[i, j]` over training (x = epoch, y in [0, 1]), one coloured line
    per edge labelled `z_i -> z_j`; panel (b) draws the structure `sampled_gates` as a DAG on
    a circle (root `z_{N-1}` on top), each present edge an arrow from parent to child in the
    colour of its trajectory. Absent edges are not drawn.

    Args:
        edge_history: A non-empty sequence of `[N, N]` edge-probability matrices `mu`,
            entry 0 before training.
        sampled_gates: A `[N, N]` 0/1 matrix; `[i, j] = 1` means edge `i -> j` is present.
        path: The image file to write (PNG unless its suffix names another format).
        title: An optional figure title.
        epochs: Optional x values, one per history entry; defaults to `0, 1, ...`.

    Returns:
        `path` as a `Path`.

    Raises:
        ValueError: On invalid inputs (see `build_figure2`).
    """
    return _save(build_figure2(edge_history, sampled_gates, title=title, epochs=epochs), path)
