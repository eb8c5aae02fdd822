"""Structure exports: Graphviz DOT text and a JSON-serialisable description."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from tf_graphvae.config.files import write_text
from tf_graphvae.figures._common import _gates, _num_nodes, _present_edges, _probabilities


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
