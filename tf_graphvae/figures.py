"""Figures of the Graph VAE paper and structure exports (PNG, Graphviz DOT, JSON).

Every `plot_*` function writes its image atomically (`tf_graphvae.io.atomic_path`): a reader
sees either the previous complete file or the new one, never a half-written PNG.

The figures are built with the object-oriented Matplotlib API (`matplotlib.figure.Figure`,
rendered by the Agg canvas when saved), never through `pyplot`: no GUI backend is needed, the
caller's backend choice is left alone and no figure stays registered in pyplot's global state.
Each `plot_*` function has a `build_*` twin that returns the `Figure` without saving it.

Edges are the possible dependencies `z_i -> z_j` with parent `i > child j`, in the canonical
order of `tf_graphvae.layers.gates.edge_indices`; matrices are `[N, N]` with entry `[i, j]`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator

from tf_graphvae.io import atomic_path, write_text
from tf_graphvae.layers.gates import edge_indices

__all__ = [
    "build_edge_values",
    "plot_edge_values",
    "build_edge_stability",
    "build_figure2",
    "build_figure3",
    "build_sample_grid",
    "edge_colors",
    "edge_label",
    "plot_edge_stability",
    "plot_figure2",
    "plot_figure3",
    "plot_sample_grid",
    "structure_from_json",
    "structure_to_dot",
    "structure_to_json",
]

RGBA = tuple[float, float, float, float]

_DPI = 150
_RESULT_KEYS = ("latent_dim", "num_nodes", "node_dim", "ll")


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
    if edge_history is None or len(edge_history) == 0:
        raise ValueError("edge_history is empty: it needs at least one [N, N] matrix.")
    history = [_probabilities(mu, f"edge_history[{t}]") for t, mu in enumerate(edge_history)]
    shapes = {mu.shape for mu in history}
    if len(shapes) != 1:
        raise ValueError(f"edge_history holds matrices of inconsistent shapes {sorted(shapes)}.")
    history = np.stack(history)
    num_nodes = history.shape[1]
    gates = _gates(sampled_gates, "sampled_gates")
    if gates.shape[0] != num_nodes:
        raise ValueError(
            f"sampled_gates has shape {gates.shape} but edge_history has {num_nodes} nodes."
        )
    if epochs is None:
        x = np.arange(len(history), dtype=np.float64)
    else:
        x = np.asarray(epochs, dtype=np.float64).reshape(-1)
        if x.shape[0] != len(history):
            raise ValueError(
                f"epochs has {x.shape[0]} values but edge_history has {len(history)} entries."
            )

    colours = edge_colors(num_nodes)
    num_edges = len(colours)
    fig = Figure(figsize=(11.0, 4.8), layout="constrained")
    grid = fig.add_gridspec(1, 2, width_ratios=[1.75, 1.0])
    ax_a = fig.add_subplot(grid[0, 0])
    ax_b = fig.add_subplot(grid[0, 1])

    marker = "o" if len(history) <= 25 else None
    for (i, j), colour in colours.items():
        ax_a.plot(
            x,
            history[:, i, j],
            color=colour,
            lw=1.8,
            marker=marker,
            markersize=3,
            label=edge_label(i, j),
            gid=f"edge-{i}-{j}",
        )
    ax_a.axhline(0.5, color="0.6", lw=0.8, ls=":", zorder=0, gid="threshold")
    ax_a.set_ylim(-0.03, 1.03)
    if len(x) > 1 and x[-1] != x[0]:
        span = x.max() - x.min()
        ax_a.set_xlim(x.min() - 0.02 * span, x.max() + 0.02 * span)
    ax_a.set_xlabel("epoch")
    ax_a.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_a.set_ylabel(r"edge probability $\mu_{ij}$")
    ax_a.set_title("(a) edge probabilities during training", fontsize=11)
    ax_a.grid(alpha=0.25)
    if num_edges:
        rows = 12 if num_edges <= 36 else 18
        ax_a.legend(
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
            ncols=math.ceil(num_edges / rows),
            fontsize=9 if num_edges <= 12 else 7,
            frameon=False,
            handlelength=1.5,
            columnspacing=1.0,
        )

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


# --------------------------------------------------------------------------------------------
# Figure 3: test log-likelihood against node dimension
# --------------------------------------------------------------------------------------------


def _check_results(results: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
    if results is None or len(results) == 0:
        raise ValueError("results is empty: it needs at least one result dict.")
    rows = []
    for k, result in enumerate(results):
        if not isinstance(result, Mapping):
            raise ValueError(f"results[{k}] must be a dict, got {type(result).__name__}.")
        missing = [key for key in _RESULT_KEYS if key not in result]
        if missing:
            raise ValueError(f"results[{k}] is missing the key(s) {missing}.")
        row = {}
        for key in (*_RESULT_KEYS, "ll_std"):
            if key == "ll_std" and result.get(key) is None:
                row[key] = None
                continue
            try:
                row[key] = float(result[key])
            except (TypeError, ValueError):
                raise ValueError(
                    f"results[{k}][{key!r}] is not a number: {result[key]!r}."
                ) from None
            if not math.isfinite(row[key]):
                raise ValueError(f"results[{k}][{key!r}] is not finite: {result[key]!r}.")
        if row["node_dim"] <= 0:
            raise ValueError(f"results[{k}]['node_dim'] must be > 0, got {result['node_dim']!r}.")
        rows.append(row)
    return rows


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def build_figure3(results: Sequence[Mapping[str, Any]], title: str | None = None) -> Figure:
    """Builds the paper's Figure 3 without saving it (see `plot_figure3`).

    `fig.axes[0]` holds one line per latent dimension `M` (label `"M = ..."`, `gid` `"M-..."`).

    Args:
        results: Non-empty dicts with keys `latent_dim`, `num_nodes`, `node_dim`, `ll` and
            optionally `ll_std`.
        title: An optional title.

    Returns:
        The Matplotlib `Figure`.

    Raises:
        ValueError: If `results` is empty, a dict lacks a key, or a value is not a finite
            number (`node_dim` must be > 0).
    """
    rows = _check_results(results)
    fig = Figure(figsize=(7.0, 4.8), layout="constrained")
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["tab10"]
    latent_dims = sorted({row["latent_dim"] for row in rows})
    lls = [row["ll"] for row in rows]
    near = 0.02 * (max(lls) - min(lls)) if max(lls) > min(lls) else 1e-9
    annotated: list[tuple[float, float]] = []
    for k, m in enumerate(latent_dims):
        group = sorted((r for r in rows if r["latent_dim"] == m), key=lambda r: r["node_dim"])
        x = np.array([r["node_dim"] for r in group])
        y = np.array([r["ll"] for r in group])
        colour = (
            cmap(k % 10)
            if len(latent_dims) <= 10
            else matplotlib.colormaps["turbo"](0.05 + 0.9 * k / (len(latent_dims) - 1))
        )
        label = f"M = {_number(m)}"
        if any(r["ll_std"] is not None for r in group):
            yerr = np.array([r["ll_std"] or 0.0 for r in group])
            container = ax.errorbar(
                x, y, yerr=yerr, color=colour, marker="o", lw=1.8, capsize=3, label=label
            )
            container.lines[0].set_gid(f"M-{_number(m)}")
        else:
            ax.plot(x, y, color=colour, marker="o", lw=1.8, label=label, gid=f"M-{_number(m)}")
        for r in group:
            # Points of several M at the same place get their labels stacked downwards.
            stack = sum(
                1 for x0, y0 in annotated if x0 == r["node_dim"] and abs(y0 - r["ll"]) <= near
            )
            annotated.append((r["node_dim"], r["ll"]))
            ax.annotate(
                f"N={_number(r['num_nodes'])}",
                (r["node_dim"], r["ll"]),
                xytext=(6, 3 - 10 * stack),
                textcoords="offset points",
                ha="left",
                va="bottom",
                fontsize=8,
                color=colour,
                gid="num-nodes",
            )

    node_dims = sorted({row["node_dim"] for row in rows})
    if node_dims[-1] / node_dims[0] > 8:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_locator(FixedLocator(node_dims))
    ax.set_xticklabels([_number(v) for v in node_dims])
    if len(node_dims) == 1:
        ax.set_xlim(node_dims[0] * 0.5, node_dims[0] * 1.5)
    ax.margins(x=0.08, y=0.12)
    ax.set_xlabel(r"node dimension $N'$")
    ax.set_ylabel("test log-likelihood")
    ax.grid(alpha=0.25)
    ax.legend(fontsize=9, loc="best")
    if title:
        ax.set_title(title)
    return fig


def plot_figure3(
    results: Sequence[Mapping[str, Any]], path: str | os.PathLike, title: str | None = None
) -> Path:
    """Writes the paper's Figure 3: test log-likelihood against node dimension `N'`.

    One line with markers per latent dimension `M` (legend `M = ...`), error bars where a
    result has `ll_std`, every point annotated with its number of nodes `N=...`. The x axis is
    logarithmic (base 2) when the `N'` values span more than a factor 8; its ticks are the
    `N'` values themselves.

    Args:
        results: Non-empty dicts with keys `latent_dim` (M), `num_nodes` (N), `node_dim` (N'),
            `ll` (test log-likelihood) and optionally `ll_std`.
        path: The image file to write (PNG unless its suffix names another format).
        title: An optional title.

    Returns:
        `path` as a `Path`.

    Raises:
        ValueError: On invalid inputs (see `build_figure3`).
    """
    return _save(build_figure3(results, title=title), path)


# --------------------------------------------------------------------------------------------
# Sample grid
# --------------------------------------------------------------------------------------------


def _mosaic(images: Any, ncols: int) -> tuple[np.ndarray, int, int]:
    """Tiles `[n, H, W, C]` images into one `[rows*H', cols*W', C]` array in [0, 1]."""
    try:
        array = np.asarray(images, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"images must be a numeric [n, H, W, C] array: {error}") from None
    if array.ndim != 4:
        raise ValueError(f"images must have rank 4 [n, H, W, C], got shape {array.shape}.")
    n, height, width, channels = array.shape
    if n < 1 or height < 1 or width < 1:
        raise ValueError(f"images must be non-empty, got shape {array.shape}.")
    if channels not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels, got {channels}.")
    if not np.all(np.isfinite(array)):
        raise ValueError("images contain non-finite values.")
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"ncols must be an integer >= 1, got {ncols!r}.")
    if channels == 3 and array.max() > 1.0:
        array = array / 255.0
    array = np.clip(array, 0.0, 1.0)

    cols = min(int(ncols), n)
    rows = math.ceil(n / cols)
    pad = max(1, min(height, width) // 14)
    mosaic = np.ones(
        (rows * (height + pad) - pad, cols * (width + pad) - pad, channels), np.float64
    )
    for k in range(n):
        r, c = divmod(k, cols)
        top, left = r * (height + pad), c * (width + pad)
        mosaic[top : top + height, left : left + width] = array[k]
    return mosaic, rows, cols


def build_sample_grid(images: Any, ncols: int = 8, title: str | None = None) -> Figure:
    """Builds a grid of images without saving it (see `plot_sample_grid`).

    Args:
        images: An `[n, H, W, C]` array, `C` = 1 (grey, values in [0, 1]) or 3 (colour, values
            in [0, 1] or 0..255).
        ncols: Images per row.
        title: An optional title.

    Returns:
        The Matplotlib `Figure`; `fig.axes[0]` shows the tiled images as one `AxesImage`.

    Raises:
        ValueError: If `images` is not rank 4, is empty, has another number of channels than
            1 or 3, or holds non-finite values, or if `ncols < 1`.
    """
    mosaic, rows, cols = _mosaic(images, ncols)
    scale = min(1.0, 14.0 / cols, 14.0 / rows)
    aspect = mosaic.shape[0] / mosaic.shape[1]
    width = max(2.0, cols * scale)
    fig = Figure(figsize=(width, width * aspect + (0.4 if title else 0.0)), layout="constrained")
    ax = fig.add_subplot()
    if mosaic.shape[2] == 1:
        ax.imshow(mosaic[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(mosaic, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def plot_sample_grid(
    images: Any, path: str | os.PathLike, ncols: int = 8, title: str | None = None
) -> Path:
    """Writes a grid of images, e.g. model samples or reconstructions.

    Grey images (`C = 1`) use the `gray` colormap on [0, 1]; colour images (`C = 3`) are
    divided by 255 when their maximum exceeds 1. Values are clipped to [0, 1].

    Args:
        images: An `[n, H, W, C]` array with `C` in {1, 3}.
        path: The image file to write (PNG unless its suffix names another format).
        ncols: Images per row.
        title: An optional title.

    Returns:
        `path` as a `Path`.

    Raises:
        ValueError: On invalid inputs (see `build_sample_grid`).
    """
    return _save(build_sample_grid(images, ncols=ncols, title=title), path)


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
# Structure exports
# --------------------------------------------------------------------------------------------


def build_edge_values(values: Mapping[str, Any], title: str | None = None) -> Figure:
    """Builds the per-edge value chart without saving it (see `plot_edge_values`).

    Args:
        values: the dict of `tf_graphvae.edge_values.edge_values` (`edges`, `value`, `sem`).
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
    ax.set_xlabel(f"ELBO(gate on) − ELBO(gate off), {values.get('unit', 'nats')} (± 2 SE)")
    if title:
        ax.set_title(title)
    return fig


def plot_edge_values(
    values: Mapping[str, Any], path: str | os.PathLike, title: str | None = None
) -> Path:
    """Writes the per-edge value chart beside Figure 2 (one bar per possible edge)."""
    return _save(build_edge_values(values, title), path)


def _edge_probabilities(edge_probabilities: Any, num_nodes: int) -> np.ndarray | None:
    if edge_probabilities is None:
        return None
    mu = _probabilities(edge_probabilities, "edge_probabilities")
    if mu.shape[0] != num_nodes:
        raise ValueError(
            f"edge_probabilities has shape {mu.shape} but gates has {num_nodes} nodes."
        )
    return mu


def structure_to_dot(
    gates: Any, path: str | os.PathLike | None = None, edge_probabilities: Any = None
) -> str:
    """Graphviz DOT text of a structure: nodes `z0 ... z{N-1}`, edges `i -> j` with gate > 0.5.

    Edges come in canonical order (`edge_indices`); with `edge_probabilities` each edge is
    labelled with its `mu[i, j]` (3 decimals).

    Args:
        gates: An `[N, N]` gate matrix; `[i, j] > 0.5` means edge `i -> j` is present.
        path: Optional file to write the DOT text to, atomically.
        edge_probabilities: Optional `[N, N]` matrix `mu` of edge probabilities.

    Returns:
        The DOT text.

    Raises:
        ValueError: If a matrix is not square or finite, a gate is set on `i <= j`, or
            `edge_probabilities` has another size or values outside [0, 1].
    """
    present = _gates(gates)
    num_nodes = present.shape[0]
    mu = _edge_probabilities(edge_probabilities, num_nodes)
    lines = [
        "digraph structure {",
        "  rankdir=TB;",
        "  node [shape=circle];",
    ]
    lines += [f'  z{k} [label="z_{k}"];' for k in range(num_nodes)]
    for i, j in _present_edges(present):
        label = f' [label="{mu[i, j]:.3f}"]' if mu is not None else ""
        lines.append(f"  z{i} -> z{j}{label};")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if path is not None:
        write_text(path, text)
    return text


def structure_to_json(gates: Any, edge_probabilities: Any = None) -> dict[str, Any]:
    """A JSON-serialisable description of a structure.

    Args:
        gates: An `[N, N]` gate matrix; `[i, j] > 0.5` means edge `i -> j` is present.
        edge_probabilities: Optional `[N, N]` matrix `mu` of edge probabilities.

    Returns:
        `{"num_nodes": N, "edges": [[i, j], ...] (canonical order),
        "edge_probabilities": nested [N][N] list of floats or None}`.

    Raises:
        ValueError: As `structure_to_dot`.
    """
    present = _gates(gates)
    num_nodes = present.shape[0]
    mu = _edge_probabilities(edge_probabilities, num_nodes)
    return {
        "num_nodes": num_nodes,
        "edges": [[i, j] for i, j in _present_edges(present)],
        "edge_probabilities": None if mu is None else mu.tolist(),
    }


def structure_from_json(obj: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
    """Inverts `structure_to_json`.

    Args:
        obj: A dict with keys `num_nodes`, `edges` and optionally `edge_probabilities`.

    Returns:
        `(gates, edge_probabilities)`: a float32 `[N, N]` 0/1 matrix and a float64 `[N, N]`
        matrix or None.

    Raises:
        ValueError: If a key is missing, an edge is not a pair `i > j` within range, or the
            edge probabilities have another shape.
    """
    if not isinstance(obj, Mapping):
        raise ValueError(f"A structure must be a dict, got {type(obj).__name__}.")
    missing = [key for key in ("num_nodes", "edges") if key not in obj]
    if missing:
        raise ValueError(f"The structure is missing the key(s) {missing}.")
    num_nodes = _num_nodes(obj["num_nodes"])
    gates = np.zeros((num_nodes, num_nodes), np.float32)
    for edge in obj["edges"]:
        if len(edge) != 2:
            raise ValueError(f"An edge must be a [parent, child] pair, got {edge!r}.")
        i, j = (int(v) for v in edge)
        if not 0 <= j < i < num_nodes:
            raise ValueError(f"Edge {edge!r} is not a possible edge i > j of {num_nodes} nodes.")
        gates[i, j] = 1.0
    return gates, _edge_probabilities(obj.get("edge_probabilities"), num_nodes)
