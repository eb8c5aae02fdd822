"""The top-down pass's loop over the nodes, one loop body of a fixed shape for every node,
and the networks `TD_j` it runs (their stacked weights and layers).

Unrolled in Python, the pass over `N` nodes traced `N` copies of each node's ops and gated
`N(N-1)/2` parent tensors one by one, so the graph, its gradient and XLA's compilation grew
with `N^2` (231 s to compile at `N = 50`). Here node `j` reads the *whole* latent tensor
`z` `[B, N, N']`, zeros at the nodes not drawn yet, so the body has one shape whatever
`j` is and the graph holds it once (`bench/top_down_cost.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

from tf_graphvae.layers.elementwise import elu

# node_fn(j, z) -> (z_j, outputs): node j's value and its other per-node tensors, each [B, N'].
NodeFn = Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, Sequence[tf.Tensor]]]


def add_top_down_weights(
    layer: keras.layers.Layer, num_nodes: int, node_dim: int, widths: Sequence[int]
) -> list[tuple[keras.Variable, keras.Variable]]:
    """Creates on `layer` the weights of the `N-1` networks `TD_j`, stacked over `j`.

    `(kernel [N-1, K_in, K_out], bias [N-1, K_out])` of each layer, first to output: the
    first hidden layer reads all `N * N'` node entries (`hidden_kernel`, `hidden_bias`),
    hidden layer `k >= 1` is `hidden_kernel_<k>`, `hidden_bias_<k>`, the output layer
    (to `2N'`) `output_kernel`, `output_bias`. Made in this order, so that one hidden layer
    has the names and order of the weights models were saved with.
    """
    sizes, depth = (num_nodes * node_dim, *widths, 2 * node_dim), len(widths)
    layers = []
    for k in range(depth + 1):
        role, tag = "output" if k == depth else "hidden", f"_{k}" if 0 < k < depth else ""
        kernel = layer.add_weight(
            name=f"{role}_kernel{tag}", shape=(num_nodes - 1, sizes[k], sizes[k + 1]),
            initializer="glorot_uniform",
        )  # fmt: skip
        bias = layer.add_weight(
            name=f"{role}_bias{tag}", shape=(num_nodes - 1, sizes[k + 1]), initializer="zeros"
        )
        layers.append((kernel, bias))
    return layers


def top_down_mlp(
    x: tf.Tensor, layers: Sequence[tuple[tf.Tensor, tf.Tensor]], stacked: bool
) -> tf.Tensor:
    """The networks `TD_j`: hidden ELU layers, then the linear layer to `(m̂_j, raw log ŝ_j²)`.

    Args:
        x: `stacked`: the gated parent vectors of several nodes `[B, J, K]`; otherwise one
            node's `[B, K]`.
        layers: `(kernel, bias)` of each layer, first to output: `stacked`, the nodes'
            slices `[J, K_in, K_out]` and `[J, K_out]` of the stacked weights; otherwise one
            node's `[K_in, K_out]` and `[K_out]`.
        stacked: one batched contraction for all `J` nodes (`GatedDAG.call`), or matmuls
            for one node (inside the top-down loop, where the gradient of the einsum failed
            to compile under XLA: a reshape of the wrong size, TensorFlow 2.21).

    Returns:
        The output layer's values, `[B, J, 2N']` or `[B, 2N']`.
    """
    for k, (kernel, bias) in enumerate(layers):
        x = (tf.einsum("bjk,jkh->bjh", x, kernel) if stacked else tf.matmul(x, kernel)) + bias
        if k < len(layers) - 1:
            x = elu(x)
    return x


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
