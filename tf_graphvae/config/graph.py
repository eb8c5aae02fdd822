"""The latent graph as numbers, without TensorFlow: the possible edges and their order,
edge lists and node sizes as the model accepts them, and each edge's MDL price."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

STRUCTURES = ("independent", "chain", "full", "learned", "fixed")


def edge_indices(num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Parents `i` and children `j` of the `N(N-1)/2` possible edges, `i > j`.

    The edge order is row-major over parents, root first: (N-1, 0), (N-1, 1), ...
    It is the order of `Gates.gate_logits` and of every per-edge log.
    """
    parents, children = [], []
    for i in range(num_nodes - 1, 0, -1):
        for j in range(i):
            parents.append(i)
            children.append(j)
    return np.asarray(parents, np.int32), np.asarray(children, np.int32)


def mdl_edge_prices(
    node_dims: list[int], top_down_units: int | Sequence[int], num_train: int
) -> list[float]:
    """Each possible edge's price in nats per example under a two-part code (MDL / BIC).

    Edge `i -> j` adds to `TD_j` the block of first-layer weights that reads `z_i`:
    `w_e = node_dims[i] * h_1` weights, `h_1` the first hidden width of `top_down_units`
    (an int is that width). Under BIC each free parameter costs `ln(n) / 2` nats for a
    dataset of `n` examples, so the edge costs `w_e ln(n) / (2 n)` nats per example
    (docs/design.md, "A price per edge"). The parts of `TD_j` every parent shares (biases,
    deeper and output layers) are not priced.

    Returns:
        The prices in the order of :func:`edge_indices`.
    """
    if num_train < 2:
        raise ValueError(f"An MDL price needs at least 2 training examples, got {num_train}.")
    parents, _ = edge_indices(len(node_dims))
    widths = top_down_units if isinstance(top_down_units, list | tuple) else [top_down_units]
    per_weight = math.log(num_train) / (2.0 * num_train)
    return [float(node_dims[i] * int(widths[0]) * per_weight) for i in parents]


def check_edges(structure: str, num_nodes: int, edges) -> list[list[int]] | None:
    """`edges` as sorted `[[i, j], ...]` for `structure="fixed"` (each `N > i > j >= 0`).

    Raises:
        ValueError: `fixed` without edges, edges with another structure, or a bad edge.
    """
    if structure != "fixed":
        if edges is not None:
            raise ValueError(f'edges are only for structure="fixed", not {structure!r}.')
        return None
    if edges is None:
        raise ValueError('structure="fixed" needs edges, a list of [parent, child] pairs.')
    out = set()
    for edge in edges:
        i, j = (int(v) for v in edge)
        if not num_nodes > i > j >= 0:
            raise ValueError(f"Edge {list(edge)} is not a possible edge: need N > i > j >= 0.")
        out.add((i, j))
    return [list(e) for e in sorted(out, key=lambda e: (-e[0], e[1]))]


def check_node_dims(node_dims) -> list[int] | None:
    """`node_dims` as a list of ints >= 1 (None stays None; digit strings, as a flag gives
    them, are read as ints); a ValueError otherwise."""
    if node_dims is None:
        return None
    try:
        dims = [int(d) for d in node_dims if not isinstance(d, (bool, float)) or d == int(d)]
    except (TypeError, ValueError):
        dims = []
    if not dims or len(dims) != len(node_dims) or min(dims) < 1:
        shown = ",".join(map(str, node_dims)) if isinstance(node_dims, list | tuple) else node_dims
        raise ValueError(f"node_dims must be node sizes, integers >= 1, got {shown!r}.")
    return dims


def validate_structure(structure: str) -> str:
    """Returns `structure` or raises a ValueError naming the valid choices."""
    if structure not in STRUCTURES:
        raise ValueError(f"Unknown structure {structure!r}; expected one of {STRUCTURES}.")
    return structure


def structure_mask(structure: str, num_nodes: int, edges=None) -> np.ndarray:
    """The fixed 0/1 gate matrix `[N, N]` of a structure (docs/design.md §2), `[i, j]` = c[i, j].

    `learned` returns the mask of possible edges (all `i > j`); `fixed` that of `edges`.
    """
    validate_structure(structure)
    mask = np.zeros((num_nodes, num_nodes), np.float32)
    if structure == "fixed":
        for i, j in check_edges(structure, num_nodes, edges):
            mask[i, j] = 1.0
    elif structure == "chain":
        for j in range(num_nodes - 1):
            mask[j + 1, j] = 1.0
    elif structure in ("full", "learned"):
        mask = np.tril(np.ones((num_nodes, num_nodes), np.float32), k=-1)
    return mask


def map_graph_edges(mu) -> tuple[list[list[int]], list[list[int]]]:
    """The possible edges `[i, j]` (`i > j`) of edge probabilities `mu` `[N, N]`, split
    into those the MAP graph keeps (`mu > 0.5`) and those it drops."""
    mu = np.asarray(mu)
    edges = [[i, j] for i in range(len(mu)) for j in range(i)]
    return [e for e in edges if mu[e[0], e[1]] > 0.5], [e for e in edges if mu[e[0], e[1]] <= 0.5]
