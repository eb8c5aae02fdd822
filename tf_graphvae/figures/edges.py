"""Per-edge figures: the edge-stability heatmap across seeds and the edge-values bar chart."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from tf_graphvae.config import edge_indices
from tf_graphvae.figures._common import _probabilities, _save, edge_colors, edge_label

# --------------------------------------------------------------------------------------------
# Edge stability across seeds
# --------------------------------------------------------------------------------------------


def build_edge_stability(survival: Any, title: str | None = None) -> Figure:
    """Builds the edge-stability heatmap without saving it (see `plot_edge_stability`).

    Args:
        survival: An `[N, N]` matrix; `[i, j]` (i > j) is the fraction of seeds in which edge
            `i -> j` survived. Other entries are ignored.
        title: An optional title.

    Returns:
        The Matplotlib `Figure`; `fig.axes[0]` holds the heatmap and one text per possible edge.

    Raises:
        ValueError: If `survival` is not a finite square matrix or a fraction lies outside
            [0, 1].
    """
    survival = _probabilities(survival, "survival")
    num_nodes = survival.shape[0]
    possible = np.tril(np.ones((num_nodes, num_nodes), bool), k=-1)
    values = np.ma.masked_array(survival, mask=~possible)
    size = min(12.0, max(3.5, 0.6 * num_nodes + 2.0))
    fig = Figure(figsize=(size + 1.0, size), layout="constrained")
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.92")
    image = ax.imshow(values, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    fontsize = max(5.0, min(10.0, 80.0 / num_nodes))
    for i, j in zip(*edge_indices(num_nodes), strict=True):
        v = float(survival[i, j])
        ax.text(
            j,
            i,
            f"{v:.2f}",
            ha="center",
            va="center",
            fontsize=fontsize,
            color="black" if v > 0.6 else "white",
            gid=f"cell-{i}-{j}",
        )
    labels = [f"$z_{{{k}}}$" for k in range(num_nodes)]
    ax.set_xticks(range(num_nodes), labels)
    ax.set_yticks(range(num_nodes), labels)
    ax.set_xlabel("child $j$")
    ax.set_ylabel("parent $i$")
    fig.colorbar(image, ax=ax, label="fraction of seeds with edge ($\\mu > 0.5$)", shrink=0.85)
    if title:
        ax.set_title(title)
    return fig


def plot_edge_stability(survival: Any, path: str | os.PathLike, title: str | None = None) -> Path:
    """Writes a heatmap of how often each edge survived across seeds.

    Rows are parents `i`, columns children `j`; only the possible edges (i > j) are coloured,
    each annotated with its fraction, on a 0..1 colour bar; other cells are light grey.

    Args:
        survival: An `[N, N]` matrix of survival fractions (`mu > 0.5` at the end of training).
        path: The image file to write (PNG unless its suffix names another format).
        title: An optional title.

    Returns:
        `path` as a `Path`.

    Raises:
        ValueError: On invalid inputs (see `build_edge_stability`).
    """
    return _save(build_edge_stability(survival, title=title), path)


# --------------------------------------------------------------------------------------------
# Knock-out values
# --------------------------------------------------------------------------------------------


def build_knockout_values(values: Mapping[str, Any], title: str | None = None) -> Figure:
    """Builds the knock-out chart without saving it (see `plot_knockout_values`).

    Args:
        values: the dict of `tf_graphvae.knockout.knockout_values` (`edges`, `value`, `sem`).
        title: An optional title.

    Returns:
        The Matplotlib `Figure`: one horizontal bar per edge, in the colour of its Figure 2
        trajectory, with a 2-SE error bar; a dashed line at 0.
    """
    edges = [tuple(int(v) for v in e) for e in values["edges"]]
    if not edges:
        raise ValueError("values has no edge to draw.")
    value = np.asarray(values["value"], np.float64)
    sem = np.asarray(values["sem"], np.float64)
    if value.shape != (len(edges),) or sem.shape != value.shape:
        raise ValueError("values['value'] and values['sem'] need one entry per edge.")
    num_nodes = max(i for i, _ in edges) + 1
    colours = edge_colors(num_nodes)
    fig = Figure(figsize=(6.0, max(2.5, 0.35 * len(edges) + 1.2)), layout="constrained")
    ax = fig.add_subplot()
    rows = np.arange(len(edges))[::-1]  # first edge on top
    ax.barh(rows, value, xerr=2 * sem, color=[colours[e] for e in edges], capsize=3)
    ax.axvline(0.0, color="0.3", lw=0.8, ls="--")
    ax.set_yticks(rows, [edge_label(i, j) for i, j in edges])
    ax.set_xlabel(
        f"knock-out value: ELBO(gate on) − ELBO(gate off) of this trained model, "
        f"{values.get('unit', 'nats')} (± 2 SE)"
    )
    if title:
        ax.set_title(title)
    return fig


def plot_knockout_values(
    values: Mapping[str, Any], path: str | os.PathLike, title: str | None = None
) -> Path:
    """Writes the knock-out chart beside Figure 2 (one bar per possible edge)."""
    return _save(build_knockout_values(values, title), path)
