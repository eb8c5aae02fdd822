"""The latent graph as numbers, without TensorFlow: the possible edges and their order,
edge lists and node sizes as the model accepts them, and each edge's MDL price."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Structure:
    """A latent structure: which gates `c[i, j]` (`i > j`, docs/design.md §2) may be on,
    and whether they are learned.

    Attributes:
        name: the `structure` setting that selects it.
        possible_edges: `possible_edges(num_nodes, edges)`, the edges `(i, j)` whose gate
            may be on (`edges`: the checked edge list of a structure that takes one).
        learned: the gates are `Bernoulli(mu)` with trainable logits (Eq. 2); otherwise
            they are 1 on the possible edges.
        takes_edges: the structure is given by an `edges` list.
        top_down: the prior has a top-down pass (False: every node's prior is N(0, I)).
    """

    name: str
    possible_edges: Callable[[int, list | None], list]
    learned: bool = False
    takes_edges: bool = False
    top_down: bool = True


REGISTRY: dict[str, Structure] = {}


def register_structure(structure: Structure) -> Structure:
    """Makes `structure` selectable by `structure=structure.name` (the setting, the model,
    the layers and their masks); a new structure is one `Structure` and this call."""
    if structure.name in REGISTRY:
        raise ValueError(f"A structure named {structure.name!r} is registered already.")
    REGISTRY[structure.name] = structure
    return structure


def get_structure(name: str) -> Structure:
    """The registered structure called `name`, or a ValueError naming the choices."""
    if name not in REGISTRY:
        raise ValueError(f"Unknown structure {name!r}; expected one of {STRUCTURES}.")
    return REGISTRY[name]


class _Names:
    """The registered structures' names, as a live tuple-like view (choices of the setting)."""

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(REGISTRY))

    def __contains__(self, name) -> bool:
        return name in REGISTRY

    def __len__(self) -> int:
        return len(REGISTRY)

    def __repr__(self) -> str:
        return repr(tuple(REGISTRY))


STRUCTURES = _Names()


def _all_edges(num_nodes: int, edges=None) -> list:
    return [(i, j) for i in range(num_nodes) for j in range(i)]


register_structure(Structure("independent", lambda n, e: [], top_down=False))
register_structure(Structure("chain", lambda n, e: [(j + 1, j) for j in range(n - 1)]))
register_structure(Structure("full", _all_edges))
register_structure(Structure("learned", _all_edges, learned=True))
register_structure(Structure("fixed", lambda n, e: [tuple(edge) for edge in e], takes_edges=True))


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
    if not get_structure(structure).takes_edges:
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
    return get_structure(structure).name


def structure_mask(structure: str, num_nodes: int, edges=None) -> np.ndarray:
    """The fixed 0/1 gate matrix `[N, N]` of a structure (docs/design.md §2), `[i, j]` = c[i, j]:
    1 on its possible edges (for `learned`, every `i > j`; for `fixed`, `edges`)."""
    checked = check_edges(structure, num_nodes, edges)
    mask = np.zeros((num_nodes, num_nodes), np.float32)
    for i, j in get_structure(structure).possible_edges(num_nodes, checked):
        mask[i, j] = 1.0
    return mask


def map_graph_edges(mu) -> tuple[list[list[int]], list[list[int]]]:
    """The possible edges `[i, j]` (`i > j`) of edge probabilities `mu` `[N, N]`, split
    into those the MAP graph keeps (`mu > 0.5`) and those it drops."""
    mu = np.asarray(mu)
    edges = [[i, j] for i in range(len(mu)) for j in range(i)]
    return [e for e in edges if mu[e[0], e[1]] > 0.5], [e for e in edges if mu[e[0], e[1]] <= 0.5]
