"""Validation helpers, edge colours and labels, and the atomic save shared by the figures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from tf_graphvae.config import edge_indices
from tf_graphvae.config.files import atomic_path

RGBA = tuple[float, float, float, float]

_DPI = 150


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _num_nodes(num_nodes: Any) -> int:
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, (int, np.integer)):
        raise ValueError(f"num_nodes must be an integer, got {num_nodes!r}.")
    if num_nodes < 1:
        raise ValueError(f"num_nodes must be >= 1, got {num_nodes}.")
    return int(num_nodes)


def _square(matrix: Any, name: str) -> np.ndarray:
    """`matrix` as a finite float64 square 2-D array, or a ValueError naming `name`."""
    try:
        array = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a numeric [N, N] matrix: {error}") from None
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise ValueError(f"{name} must be a square [N, N] matrix, got shape {array.shape}.")
    if array.shape[0] < 1:
        raise ValueError(f"{name} must have at least one node, got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains non-finite values.")
    return array


def _probabilities(matrix: Any, name: str) -> np.ndarray:
    """A square matrix whose possible-edge entries (i > j) are probabilities in [0, 1]."""
    array = _square(matrix, name)
    lower = array[np.tril_indices(array.shape[0], k=-1)]
    if lower.size and (lower.min() < -1e-6 or lower.max() > 1 + 1e-6):
        raise ValueError(
            f"{name} must hold probabilities in [0, 1] for i > j, "
            f"got values in [{lower.min():.4g}, {lower.max():.4g}]."
        )
    return array


def _gates(gates: Any, name: str = "gates") -> np.ndarray:
    """A square gate matrix as booleans (`> 0.5`); a set gate with `i <= j` is an error."""
    array = _square(gates, name) > 0.5
    impossible = np.argwhere(np.triu(array))
    if impossible.size:
        i, j = (int(v) for v in impossible[0])
        raise ValueError(
            f"{name}[{i}, {j}] is set but only edges with parent i > child j are possible."
        )
    return array


def _present_edges(gates: np.ndarray) -> list[tuple[int, int]]:
    """The set gates of a boolean matrix, in canonical edge order."""
    parents, children = edge_indices(gates.shape[0])
    return [(int(i), int(j)) for i, j in zip(parents, children, strict=True) if gates[i, j]]


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    """Saves `fig` atomically; the format follows the suffix of `path` (PNG by default)."""
    path = Path(path)
    fmt = path.suffix[1:].lower() or "png"
    if fmt not in fig.canvas.get_supported_filetypes():
        raise ValueError(f"Unsupported image format {path.suffix!r} for {path}.")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=_DPI, bbox_inches="tight")
    return path


# --------------------------------------------------------------------------------------------
# Edge colours and labels
# --------------------------------------------------------------------------------------------


def edge_colors(num_nodes: int) -> dict[tuple[int, int], RGBA]:
    """One distinct colour per possible edge, keyed by `(parent, child)`.

    Edges are coloured in the canonical order of `edge_indices`: `tab10` for up to 10 edges,
    `tab20` (its ten dark shades first, then the ten light ones) for up to 20, and evenly spaced
    samples of the continuous `turbo` colormap beyond.

    Args:
        num_nodes: The number of latent nodes `N` (>= 1).

    Returns:
        A dict from `(i, j)` with `i > j` to an RGBA tuple of floats; empty when `N == 1`.

    Raises:
        ValueError: If `num_nodes` is not an integer >= 1.
    """
    num_nodes = _num_nodes(num_nodes)
    parents, children = edge_indices(num_nodes)
    count = len(parents)
    if count <= 10:
        cmap = matplotlib.colormaps["tab10"]
        colours = [cmap(k) for k in range(count)]
    elif count <= 20:
        cmap = matplotlib.colormaps["tab20"]
        order = list(range(0, 20, 2)) + list(range(1, 20, 2))
        colours = [cmap(order[k]) for k in range(count)]
    else:
        cmap = matplotlib.colormaps["turbo"]
        colours = [cmap(x) for x in np.linspace(0.05, 0.95, count)]
    return {
        (int(i), int(j)): tuple(float(c) for c in to_rgba(colour))
        for i, j, colour in zip(parents, children, colours, strict=True)
    }


def edge_label(parent: int, child: int) -> str:
    """The legend label of edge `z_parent -> z_child` (Matplotlib mathtext).

    Args:
        parent: The parent node `i`.
        child: The child node `j`.

    Returns:
        For example `"$z_{3} \\rightarrow z_{0}$"`, rendered as z₃ → z₀.
    """
    return rf"$z_{{{parent}}} \rightarrow z_{{{child}}}$"
