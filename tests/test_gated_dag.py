"""The gated DAG prior, the precision-weighted merge and the analytic KL."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from conftest import tiny_model

from tf_graphvae.layers import GatedDAG, precision_weighted_merge


def _dag(structure="full", n=3, d=2):
    keras_seed = 0
    tf.random.set_seed(keras_seed)
    dag = GatedDAG(n, d, structure, top_down_units=8)
    dag.build()
    return dag


def test_a_closed_gate_cuts_the_parents_influence():
    dag = _dag(n=3, d=2)
    rng = np.random.default_rng(0)
    z = rng.normal(size=(1, 3, 2)).astype(np.float32)
    z_moved = z.copy()
    z_moved[:, 2] += 3.0  # move the parent z_2 of node 0
    for gate, should_change in ((0.0, False), (1.0, True)):
        gates = np.zeros((1, 3, 3), np.float32)
        gates[0, 2, 0] = gate
        gates[0, 1, 0] = 1.0
        before = dag(z, gates)
        after = dag(z_moved, gates)
        changed = any(not np.allclose(a[:, 0], b[:, 0]) for a, b in zip(before, after, strict=True))
        assert changed == should_change


def test_sequential_node_prior_matches_the_batched_prior():
    dag = _dag(n=4, d=3)
    rng = np.random.default_rng(1)
    z = tf.constant(rng.normal(size=(5, 4, 3)), tf.float32)
    gates = tf.constant(rng.uniform(size=(5, 4, 4)) * np.tril(np.ones((4, 4)), -1), tf.float32)
    mean, log_var = dag(z, gates)
    for j in range(4):
        m_j, lv_j = dag.node_prior(j, [z[:, i] for i in range(j + 1, 4)], gates)
        np.testing.assert_allclose(m_j, mean[:, j], atol=1e-5)
        np.testing.assert_allclose(lv_j, log_var[:, j], atol=1e-5)
    np.testing.assert_array_equal(mean[:, 3], 0.0)  # the root's prior is Normal(0, I)
    np.testing.assert_array_equal(log_var[:, 3], 0.0)


def test_independent_prior_is_standard_normal_without_weights():
    dag = _dag("independent")
    assert dag.weights == []
    mean, log_var = dag(tf.ones([2, 3, 2]), tf.ones([2, 3, 3]))
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_array_equal(log_var, 0.0)


@pytest.mark.parametrize("scale", [1.0, 1e-3, 1e3])
def test_precision_weighted_merge_is_the_gaussian_product(scale):
    rng = np.random.default_rng(2)
    m1, m2 = rng.normal(size=(2, 100))
    v1, v2 = scale * rng.uniform(0.1, 10, size=(2, 100))
    mean, log_var = precision_weighted_merge(
        *(tf.constant(a, tf.float64) for a in (m1, np.log(v1), m2, np.log(v2)))
    )
    var = 1 / (1 / v1 + 1 / v2)
    np.testing.assert_allclose(np.exp(log_var), var, rtol=1e-10)
    np.testing.assert_allclose(mean, (m1 / v1 + m2 / v2) * var, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("structure", ["independent", "chain", "full", "learned"])
def test_analytic_kl_agrees_with_monte_carlo(structure):
    model = tiny_model(structure)
    x = np.random.default_rng(3).integers(0, 2, (1, 8, 8, 1)).astype(np.float32)
    gates = model.gates(tf.constant(1), training=False, seed=tf.constant([0, 1]))
    out = model.infer(x, gates, tf.constant([0, 2]))
    n = 20_000
    tfd = tfp.distributions
    for j in range(model.num_nodes):
        q = tfd.MultivariateNormalDiag(out["q_mean"][0, j], tf.exp(0.5 * out["q_log_var"][0, j]))
        p = tfd.MultivariateNormalDiag(out["p_mean"][0, j], tf.exp(0.5 * out["p_log_var"][0, j]))
        z = q.sample(n, seed=(5, j))
        log_ratio = (q.log_prob(z) - p.log_prob(z)).numpy()
        tolerance = 5 * log_ratio.std() / np.sqrt(n) + 1e-4
        assert abs(log_ratio.mean() - out["kl_per_node"][0, j].numpy()) < tolerance


@pytest.mark.parametrize("structure", ["independent", "learned"])
def test_elbo_is_not_above_an_importance_weighted_bound(structure, digits):
    import keras

    model = tiny_model(structure)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    x_bin = (np.random.default_rng(4).random(digits.shape) < digits).astype(np.float32)
    model.fit(x_bin, epochs=2, batch_size=128, verbose=0)
    x = x_bin[:4]
    k = 2000
    tiled = np.repeat(x, k, axis=0)
    out = model.forward(tf.constant(tiled), training=False, seed=tf.constant([7, 7]))
    log_w = (out["recon"] + out["log_p"] - out["log_q"]).numpy().reshape(4, k)
    elbo = out["elbo"].numpy().reshape(4, k).mean(axis=1)
    iw_bound = tf.reduce_logsumexp(log_w, axis=1).numpy() - np.log(k)
    se = out["elbo"].numpy().reshape(4, k).std(axis=1) / np.sqrt(k)
    assert np.all(elbo <= iw_bound + 5 * se), (elbo, iw_bound)
