"""The top-down pass's loop over the nodes, one loop body of a fixed shape for every node.

Unrolled in Python, the pass over `N` nodes traced `N` copies of each node's ops and gated
`N(N-1)/2` parent tensors one by one, so the graph, its gradient and XLA's compilation grew
with `N^2` (231 s to compile at `N = 50`). Here node `j` reads the *whole* latent tensor
`z` `[B, N, N']`, zeros at the nodes not drawn yet, so the body has one shape whatever
`j` is and the graph holds it once (`bench/top_down_cost.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

# node_fn(j, z) -> (z_j, outputs): node j's value and its other per-node tensors, each [B, N'].
NodeFn = Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, Sequence[tf.Tensor]]]


def _place(stacked: tf.Tensor, node: tf.Tensor | int, value: tf.Tensor) -> tf.Tensor:
    """`stacked` `[B, N, N']` with node `node`'s row replaced by `value` `[B, N']`.

    A select, not `stacked + one_hot * value`: the rows are copied exactly, and an infinite
    value in one row cannot turn the others into NaN (`0 * inf`).
    """
    at_node = tf.equal(tf.range(stacked.shape[1]), node)[None, :, None]
    return tf.where(at_node, value[:, None], stacked)


def top_down_scan(
    node_fn: NodeFn, root: tuple[tf.Tensor, Sequence[tf.Tensor]], num_nodes: int
) -> tuple[tf.Tensor, list[tf.Tensor]]:
    """Nodes `N-2, ..., 0` in turn after the root, as a `tf.while_loop` of a fixed body.

    The loop carries every node's value and outputs as `[B, N, N']` tensors, the nodes not
    yet computed held at 0, and writes node `j`'s row at step `N-2-j`. It compiles under
    XLA (`maximum_iterations` bounds the loop, as the gradient's stacks of intermediates
    need) and gradients flow through it.

    Args:
        node_fn: `(j, z) -> (z_j, outputs)`: from the int32 scalar `j` and `z` `[B, N, N']`
            (the nodes `> j` drawn, the others 0), node `j`'s value `[B, N']` and a sequence
            of per-node tensors, each `[B, N']`.
        root: `(z_root, outputs_root)` of node `N-1`, computed outside the loop (its prior
            is the fixed `Normal(0, I)`, not a top-down network).
        num_nodes: `N >= 1`.

    Returns:
        `(z, outputs)`: `z` `[B, N, N']` and each output stacked over the nodes, `[B, N, N']`.
    """
    z_root, outputs_root = root

    def stack_root(value):  # [B, N'] -> [B, N, N'], zeros at the nodes below the root
        return tf.pad(value[:, None], [[0, 0], [num_nodes - 1, 0], [0, 0]])

    z, outputs = stack_root(z_root), [stack_root(t) for t in outputs_root]
    if num_nodes == 1:
        return z, outputs

    def body(step, z, outputs):
        j = num_nodes - 2 - step
        z_j, outputs_j = node_fn(j, z)
        outputs = [_place(s, j, t) for s, t in zip(outputs, outputs_j, strict=True)]
        return step + 1, _place(z, j, z_j), outputs

    _, z, outputs = tf.while_loop(
        lambda step, *_: step < num_nodes - 1,
        body,
        (tf.constant(0), z, outputs),
        maximum_iterations=num_nodes - 1,
    )
    return z, list(outputs)
