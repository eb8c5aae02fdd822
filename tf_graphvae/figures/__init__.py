"""Figures of the Graph VAE paper and structure exports (PNG, Graphviz DOT, JSON).

Every `plot_*` function writes its image atomically (`config.files.atomic_path`): a reader
sees either the previous complete file or the new one, never a half-written PNG.

The figures are built with the object-oriented Matplotlib API (`matplotlib.figure.Figure`,
rendered by the Agg canvas when saved), never through `pyplot`: no GUI backend is needed, the
caller's backend choice is left alone and no figure stays registered in pyplot's global state.
Each `plot_*` function has a `build_*` twin that returns the `Figure` without saving it.

Edges are the possible dependencies `z_i -> z_j` with parent `i > child j`, in the canonical
order of `tf_graphvae.config.edge_indices`; matrices are `[N, N]` with entry `[i, j]`.
"""

from tf_graphvae.figures._common import edge_colors, edge_label
from tf_graphvae.figures.edges import (
    build_edge_stability,
    build_knockout_values,
    plot_edge_stability,
    plot_knockout_values,
)
from tf_graphvae.figures.figure2 import build_figure2, plot_figure2
from tf_graphvae.figures.figure3 import build_figure3, plot_figure3
from tf_graphvae.figures.learning_curves import build_learning_curves, plot_learning_curves
from tf_graphvae.figures.samples import build_sample_grid, plot_sample_grid
from tf_graphvae.figures.structure import (
    structure_from_json,
    structure_to_dot,
    structure_to_json,
)

__all__ = [
    "build_edge_stability",
    "build_knockout_values",
    "build_figure2",
    "build_figure3",
    "build_learning_curves",
    "build_sample_grid",
    "edge_colors",
    "edge_label",
    "plot_edge_stability",
    "plot_knockout_values",
    "plot_figure2",
    "plot_figure3",
    "plot_learning_curves",
    "plot_sample_grid",
    "structure_from_json",
    "structure_to_dot",
    "structure_to_json",
]
