"""The top-down pass as a loop of one fixed body (`layers/top_down.py`) against the Python
loop it replaced: the same numbers and gradients, and a graph that does not grow with N^2."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from conftest import tiny_model

from tf_graphvae.config.graph import structure_mask
from tf_graphvae.layers import GatedDAG, precision_weighted_merge
from tf_graphvae.layers.gated_dag import diag_normal, node_densities

KEYS = ("z", "noise", "q_mean", "q_log_var", "p_mean", "p_log_var")
STRUCTURES = ("independent", "chain", "full", "learned", "fixed")
# (N, node_dims): equal nodes of N' = 3, and nodes of different sizes padded to the largest.
SIZES = [(1, None), (2, None), (5, None), (2, [3, 1]), (3, [3, 2, 1]), (5, [4, 4, 2, 1, 1])]


# --------------------------------------------------------------------------- reference
# The pass as it was written before the loop (a Python loop over the nodes, each node's
# gated parents concatenated one by one), kept verbatim as the reference.
def reference_posterior(
    dag, data_mean, data_log_var, gates, seed, row_offset=0, total_rows=None,
    deterministic=False,
):  # fmt: skip
    n = dag.num_nodes
    if deterministic:
        noise = tf.zeros_like(data_mean)
    else:
        noise = dag.zero_padding(dag._noise(seed, data_mean, row_offset, total_rows))
    zs, out = (
        [None] * n,
        {k: [None] * n for k in ("q_mean", "q_log_var", "p_mean", "p_log_var")},
    )
    for j in range(n - 1, -1, -1):
        m_tilde, lv_tilde = data_mean[:, j], data_log_var[:, j]
        if dag.has_top_down:
            p_mean, p_log_var = dag.node_prior(j, zs[j + 1 :], gates)
            q_mean, q_log_var = precision_weighted_merge(p_mean, p_log_var, m_tilde, lv_tilde)
        else:  # mean-field VAE: q_j from the bottom-up network alone, p_j = Normal(0, I)
            p_mean = p_log_var = tf.zeros_like(m_tilde)
            q_mean, q_log_var = m_tilde, lv_tilde
        q_mean, q_log_var, p_mean, p_log_var = (
            dag.zero_padding(t, j) for t in (q_mean, q_log_var, p_mean, p_log_var)
        )
        zs[j] = q_mean + tf.exp(0.5 * q_log_var) * noise[:, j]
        for key, value in zip(out, (q_mean, q_log_var, p_mean, p_log_var), strict=True):
            out[key][j] = value
    result = {key: tf.stack(values, axis=1) for key, values in out.items()}
    result["z"] = tf.stack(zs, axis=1)
    result["noise"] = noise
    return result


def reference_sample(dag, gates, seed):
    n = dag.num_nodes
    seeds = tfp.random.split_seed(seed, n=n)
    zs = [None] * n
    for j in range(n - 1, -1, -1):
        mean, log_var = dag.node_prior(j, zs[j + 1 :], gates)
        zs[j] = dag.zero_padding(diag_normal(mean, log_var).sample(seed=seeds[j]), j)
    return tf.stack(zs, axis=1)


# --------------------------------------------------------------------------- helpers
def _dag(structure, n, node_dims=None, node_dim=3, units=16):
    keras.utils.set_random_seed(0)
    dag = GatedDAG(n, max(node_dims) if node_dims else node_dim, structure, units, node_dims)
    dag.build()
    if dag.has_top_down:  # non-zero biases, so that a wrong bias row would show
        for bias in (dag.hidden_bias, dag.output_bias):
            bias.assign(np.random.default_rng(1).normal(0, 0.3, bias.shape))
    return dag


def _gates(structure, n, batch, rng):
    """Gates `[B, N, N]`: each structure's 0/1 matrix; for "learned", relaxed gates in (0, 1)
    everywhere, above the diagonal too (the pass must ignore c[i, j] for i <= j)."""
    if structure == "learned":
        return rng.uniform(size=(batch, n, n)).astype(np.float32)
    if structure == "fixed":
        mask = np.tril(np.ones((n, n)), -1) * (np.add.outer(np.arange(n), np.arange(n)) % 2)
    else:
        mask = structure_mask(structure, n)
    return np.tile(mask[None], (batch, 1, 1)).astype(np.float32)


def _inputs(dag, structure, batch=6, seed=0):
    rng = np.random.default_rng(seed)
    shape = (batch, dag.num_nodes, dag.node_dim)
    data_mean = tf.constant(rng.normal(size=shape), tf.float32)
    data_log_var = tf.constant(rng.uniform(-2, 1, size=shape), tf.float32)
    return data_mean, data_log_var, tf.constant(_gates(structure, dag.num_nodes, batch, rng))


def _assert_close(got, want):
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6, err_msg=key)


def _with_densities(dag, out):
    out = dict(out)
    out["kl_per_node"], out["log_q"], out["log_p"] = node_densities(out, dag.latent_dim)
    return out


# --------------------------------------------------------------------------- equality
@pytest.mark.parametrize("n, node_dims", SIZES)
@pytest.mark.parametrize("structure", STRUCTURES)
@pytest.mark.parametrize("deterministic", [False, True])
def test_the_loop_posterior_is_the_python_loop_posterior(structure, n, node_dims, deterministic):
    dag = _dag(structure, n, node_dims)
    args = (*_inputs(dag, structure), tf.constant([3, 4]))
    got = _with_densities(dag, dag.posterior(*args, deterministic=deterministic))
    want = _with_densities(dag, reference_posterior(dag, *args, deterministic=deterministic))
    assert set(got) == set(want)
    _assert_close(got, want)
    np.testing.assert_array_equal(got["noise"], want["noise"])  # the one draw, unchanged
    if dag.has_top_down:  # the root is computed outside the loop as before: the same bits
        for key in KEYS:
            np.testing.assert_array_equal(got[key][:, -1], want[key][:, -1], err_msg=key)
    for j, d in enumerate(node_dims or []):
        for key in KEYS:  # the padding is exactly 0
            np.testing.assert_array_equal(got[key][:, j, d:], 0.0, err_msg=key)


@pytest.mark.parametrize("n, node_dims", SIZES)
@pytest.mark.parametrize("structure", STRUCTURES)
def test_the_loop_sample_is_the_python_loop_sample(structure, n, node_dims):
    dag = _dag(structure, n, node_dims)
    gates = _inputs(dag, structure, batch=7)[2]
    got, want = dag.sample(gates, tf.constant([5, 6])), reference_sample(dag, gates, [5, 6])
    # The same per-node seeds and draws: equal to float tolerance (the top-down networks
    # sum their non-parents' zeros too), bit for bit where there is no top-down network.
    if dag.has_top_down:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(got[:, -1], want[:, -1])
    else:
        np.testing.assert_array_equal(got, want)
    if node_dims:
        for j, d in enumerate(node_dims):
            np.testing.assert_array_equal(got[:, j, d:], 0.0)  # the padding is exactly 0


def test_a_global_batch_shard_draws_the_same_noise_as_before():
    dag = _dag("learned", 4)
    data_mean, data_log_var, gates = _inputs(dag, "learned", batch=3)
    args = (data_mean, data_log_var, gates, tf.constant([1, 2]), 3, 9)  # rows 3..5 of 9
    _assert_close(dag.posterior(*args), reference_posterior(dag, *args))


def _loss(dag, posterior, inputs):
    """A scalar of the pass's outputs (z, the means and log-variances, the densities)."""
    data_mean, data_log_var, gates = inputs
    out = _with_densities(dag, posterior(dag, data_mean, data_log_var, gates, tf.constant([7, 8])))
    weights = np.random.default_rng(2).normal(size=out["z"].shape[1:]).astype(np.float32)
    return (
        tf.reduce_sum(out["z"] * weights) + tf.reduce_sum(out["q_mean"] * out["p_log_var"])
        + tf.reduce_sum(out["kl_per_node"]) + tf.reduce_sum(out["log_q"] - out["log_p"])
    )  # fmt: skip


def _gradients(dag, posterior, inputs):
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        loss = _loss(dag, posterior, inputs)
    return loss, tape.gradient(loss, [*dag.trainable_variables, *inputs])


@pytest.mark.parametrize("n, node_dims", [(5, None), (5, [4, 4, 2, 1, 1])])
@pytest.mark.parametrize("structure", ["chain", "learned"])
def test_gradients_through_the_loop_are_those_of_the_python_loop(structure, n, node_dims):
    dag = _dag(structure, n, node_dims)
    inputs = list(_inputs(dag, structure))
    loss, grads = _gradients(dag, GatedDAG.posterior, inputs)
    ref_loss, ref_grads = _gradients(dag, reference_posterior, inputs)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
    names = [v.name for v in dag.trainable_variables] + ["data_mean", "data_log_var", "gates"]
    for name, g, r in zip(names, grads, ref_grads, strict=True):
        assert g is not None, name
        # Relative to the gradient's own size: entries of ~0 differ by rounding alone.
        scale = np.abs(r).max()
        np.testing.assert_allclose(g / scale, r / scale, atol=1e-5, err_msg=name)


def test_the_loop_compiles_under_xla_with_its_gradient():
    dag = _dag("learned", 5, [4, 4, 2, 1, 1])
    inputs = list(_inputs(dag, "learned"))
    compiled = tf.function(
        lambda *a: _gradients(dag, GatedDAG.posterior, list(a)), jit_compile=True
    )
    loss, grads = compiled(*inputs)
    ref_loss, ref_grads = _gradients(dag, reference_posterior, inputs)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
    for g, r in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(g / np.abs(r).max(), r / np.abs(r).max(), atol=1e-5)
    # XLA's normal draws are not TensorFlow kernels' (an inverse-erf, not a Box-Muller
    # transform): the reference is compiled too.
    seed = tf.constant([5, 6])
    sample = tf.function(dag.sample, jit_compile=True)(inputs[2], seed)
    want = tf.function(lambda g, s: reference_sample(dag, g, s), jit_compile=True)(inputs[2], seed)
    np.testing.assert_allclose(sample, want, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- graph size
def _op_count(dag, posterior) -> int:
    """Ops of the traced pass and its gradient, the bodies of its functions included (a
    `while` loop's body is a function of the graph's library)."""
    shape = [None, dag.num_nodes, dag.node_dim]

    @tf.function
    def step(data_mean, data_log_var, gates):
        with tf.GradientTape() as tape:
            tape.watch([data_mean, data_log_var])
            out = posterior(dag, data_mean, data_log_var, gates, tf.constant([1, 2]))
            loss = tf.reduce_sum(out["z"]) + tf.reduce_sum(out["q_log_var"])
        return tape.gradient(loss, [*dag.trainable_variables, data_mean, data_log_var])

    graph_def = step.get_concrete_function(
        tf.TensorSpec(shape, tf.float32), tf.TensorSpec(shape, tf.float32),
        tf.TensorSpec([None, dag.num_nodes, dag.num_nodes], tf.float32),
    ).graph.as_graph_def()  # fmt: skip
    return len(graph_def.node) + sum(len(f.node_def) for f in graph_def.library.function)


def test_the_traced_pass_does_not_grow_with_the_number_of_nodes():
    # The same latent size M = 20 in 5 nodes of 4 and in 20 nodes of 1.
    small, large = _dag("learned", 5, node_dim=4), _dag("learned", 20, node_dim=1)
    new = [_op_count(dag, GatedDAG.posterior) for dag in (small, large)]
    assert new[1] <= 1.2 * new[0], new
    old = [_op_count(dag, reference_posterior) for dag in (small, large)]
    assert old[1] > 3 * old[0], old  # the count does measure the growth of the Python loop


# --------------------------------------------------------------------------- training
@pytest.mark.parametrize("mixed_precision", [False, True])
def test_a_model_trains_under_xla_with_several_steps_per_execution(mixed_precision, digits):
    model = tiny_model("learned", num_nodes=4, node_dims=[3, 2, 2, 1], node_dim=3,
                       mixed_precision=mixed_precision)  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=True, steps_per_execution=3)
    x = (np.random.default_rng(0).random(digits[:192].shape) < digits[:192]).astype(np.float32)
    before = [w.numpy().copy() for w in model.dag.trainable_weights]
    loss = model.fit(x, batch_size=32, epochs=2, verbose=0).history["loss"]
    assert np.all(np.isfinite(loss))
    after = model.dag.trainable_weights
    assert all(np.any(a.numpy() != b) for a, b in zip(after, before, strict=True))
