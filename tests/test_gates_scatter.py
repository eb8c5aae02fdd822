"""Gates: the edge placement (a gather) against the one-hot matmul it replaced, and the
relaxed draw's named generator against TFP's."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tf_graphvae.config import edge_indices
from tf_graphvae.layers import Gates
from tf_graphvae.layers.gates import relaxed_bernoulli_sample


def onehot_scatter(num_nodes: int, edge_values: tf.Tensor) -> tf.Tensor:
    """The placement before the gather, kept as the reference: `[..., E]` times a one-hot
    `[E, N^2]` matrix, reshaped to `[..., N, N]`."""
    parents, children = edge_indices(num_nodes)
    onehot = tf.one_hot(parents * num_nodes + children, num_nodes**2, dtype=edge_values.dtype)
    flat = tf.linalg.matvec(onehot, edge_values, transpose_a=True)
    shape = tf.concat([tf.shape(edge_values)[:-1], [num_nodes, num_nodes]], 0)
    return tf.reshape(flat, shape)


def _values_and_gradient(place, values, upstream):
    with tf.GradientTape() as tape:
        tape.watch(values)
        placed = place(values)
        objective = tf.reduce_sum(placed * upstream)
    return placed, tape.gradient(objective, values)


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
@pytest.mark.parametrize("num_nodes", [1, 2, 5, 12])
@pytest.mark.parametrize("rows", [(), (7,), (2, 3)])
def test_the_gather_places_edges_as_the_onehot_matmul_did(num_nodes, dtype, jit_compile, rows):
    """Equal values and equal gradients w.r.t. the edge values, bit for bit: the gather
    copies each value and its gradient scatter-adds the one upstream entry each edge has,
    where the matmul added zeros to them."""
    gates = Gates(num_nodes, "learned")
    rng = np.random.default_rng(num_nodes)
    values = tf.cast(rng.normal(size=(*rows, gates.num_edges)), dtype)
    upstream = tf.cast(rng.normal(size=(*rows, num_nodes, num_nodes)), dtype)

    def both(values, upstream):
        new = _values_and_gradient(gates._scatter, values, upstream)
        old = _values_and_gradient(lambda v: onehot_scatter(num_nodes, v), values, upstream)
        return new, old

    (placed, grad), (expected, expected_grad) = tf.function(both, jit_compile=jit_compile)(
        values, upstream
    )
    assert placed.dtype == dtype and placed.shape == (*rows, num_nodes, num_nodes)
    np.testing.assert_array_equal(tf.cast(placed, tf.float32), tf.cast(expected, tf.float32))
    np.testing.assert_array_equal(tf.cast(grad, tf.float32), tf.cast(expected_grad, tf.float32))
    # Each edge sits at [i, j] of the edge order, every other entry is exactly zero.
    parents, children = edge_indices(num_nodes)
    flat = tf.reshape(tf.cast(placed, tf.float32), [-1, num_nodes, num_nodes]).numpy()
    np.testing.assert_array_equal(
        flat[:, parents, children], tf.reshape(tf.cast(values, tf.float32), [-1, len(parents)])
    )
    assert np.count_nonzero(flat) == np.count_nonzero(values.numpy())


def test_the_gather_keeps_the_static_shape_of_a_traced_batch():
    gates = Gates(5, "learned")
    spec = tf.TensorSpec([None, gates.num_edges], tf.float32)
    traced = tf.function(gates._scatter).get_concrete_function(spec)
    assert traced.output_shapes.as_list() == [None, 5, 5]


def _tfp_logistic_draw(logits, tau, n, seed):
    """The relaxed draw before the generator was named."""
    return tf.sigmoid(tfp.distributions.Logistic(logits / tau, 1.0 / tau).sample(n, seed=seed))


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
@pytest.mark.parametrize("seed", [[1, 2], [-5, 123456], [2**31 - 1, -(2**31)]])
def test_relaxed_draws_are_the_tfp_logistic_draws_bit_for_bit_without_xla(dtype, seed):
    """Philox named draws TFP's default uniforms in TensorFlow's kernels, whatever the seed's
    sign, and the logistic transform is TFP's op for op: the draw before the generator was
    named, exactly (`tfd.RelaxedBernoulli`'s sigmoid bijector rounds differently, within
    3e-7: tests/test_gates.py)."""
    logits = tf.cast(tf.linspace(-16.0, 16.0, 45), dtype)
    tau, seed = tf.cast(0.3, dtype), tf.constant(seed, tf.int32)
    for function in (lambda f: f, tf.function):
        ours = function(lambda s: relaxed_bernoulli_sample(logits, tau, 200, s))(seed)
        assert ours.dtype == dtype
        expected = function(lambda s: _tfp_logistic_draw(logits, tau, 200, s))(seed)
        np.testing.assert_array_equal(tf.cast(ours, tf.float32), tf.cast(expected, tf.float32))


@pytest.mark.parametrize("seed", [[1, 2], [2**31 - 1, 0]])
def test_relaxed_draws_are_the_tfp_logistic_draws_under_xla_for_non_negative_seeds(seed):
    """Under XLA the default algorithm's run-time key and Philox's agree only for seeds
    without a negative half (TensorFlow 2.21 on CPU; a negative half gives another, equally
    distributed, draw), as for the other named draws of `layers/noise.py`."""
    logits, tau, seed = tf.linspace(-16.0, 16.0, 45), tf.constant(0.3), tf.constant(seed)
    ours = tf.function(lambda s: relaxed_bernoulli_sample(logits, tau, 200, s), jit_compile=True)
    expected = tf.function(lambda s: _tfp_logistic_draw(logits, tau, 200, s), jit_compile=True)
    np.testing.assert_array_equal(ours(seed), expected(seed))


def test_the_training_gates_compile_a_static_generator():
    """No run-time algorithm lookup (`layers/noise.py`) in the relaxed gates' graph."""
    gates = Gates(4, "learned")
    graph = (
        tf.function(lambda s: gates(tf.constant(8), training=True, seed=s))
        .get_concrete_function(tf.TensorSpec([2], tf.int32))
        .graph
    )
    ops = {op.type for op in graph.get_operations()}
    assert "StatelessRandomGetKeyCounter" not in ops, ops
