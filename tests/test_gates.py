"""Gates: Eq. (2), hard gates, the structure masks of docs/design.md §2, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tf_graphvae.config import edge_indices, structure_mask
from tf_graphvae.layers import Gates

N_SAMPLES = 20_000


def _gates_with_mu(num_nodes, mu, **kwargs):
    gates = Gates(num_nodes, "learned", **kwargs)
    gates.build()
    gates.gate_logits.assign(np.full(gates.num_edges, np.log(mu / (1 - mu)), np.float32))
    return gates


@pytest.mark.parametrize("tau", [0.3, 1.0, 2.0])
@pytest.mark.parametrize("mu", [0.2, 0.5, 0.9])
def test_relaxed_gates_follow_eq2_cdf(tau, mu):
    # Eq. (2) is c = sigmoid((log mu - log(1-mu) + L) / tau) with L = eps1 - eps2 ~ Logistic(0, 1),
    # so P(c <= x) = sigmoid(tau * logit(x) - logit(mu)) in closed form.
    gates = _gates_with_mu(2, mu, temperature=tau)
    c = gates(tf.constant(N_SAMPLES), training=True, seed=tf.constant([1, 2]))[:, 1, 0].numpy()
    assert np.all((c >= 0) & (c <= 1))
    for x in (0.1, 0.3, 0.5, 0.7, 0.9):
        expected = 1 / (1 + np.exp(-(tau * np.log(x / (1 - x)) - np.log(mu / (1 - mu)))))
        tolerance = 5 * np.sqrt(expected * (1 - expected) / N_SAMPLES) + 1e-3
        assert abs(np.mean(c <= x) - expected) < tolerance, (x, np.mean(c <= x), expected)


@pytest.mark.parametrize("mu", [0.1, 0.5, 0.8])
def test_hard_gates_occur_with_frequency_mu(mu):
    gates = _gates_with_mu(4, mu)
    c = gates(tf.constant(N_SAMPLES), training=False, seed=tf.constant([3, 4])).numpy()
    assert set(np.unique(c)) <= {0.0, 1.0}
    parents, children = edge_indices(4)
    freq = c[:, parents, children].mean(axis=0)
    assert np.all(np.abs(freq - mu) < 5 * np.sqrt(mu * (1 - mu) / N_SAMPLES))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_hard_gates_are_tfps_bernoulli_draw(jit_compile):
    """The hard draw `u < sigmoid(logits)` with the named generator is the draw
    `tfd.Bernoulli(logits).sample(n, seed)` makes with the same seed."""
    gates = _gates_with_mu(4, 0.5)
    gates.gate_logits.assign(np.linspace(-2.0, 2.0, gates.num_edges).astype(np.float32))
    parents, children = edge_indices(4)
    seed = tf.constant([7, 11])

    def both(seed):
        ours = gates(tf.constant(500), training=False, seed=seed)
        theirs = tfp.distributions.Bernoulli(logits=gates.gate_logits).sample(500, seed=seed)
        return tf.gather(tf.reshape(ours, [500, -1]), parents * 4 + children, axis=1), theirs

    ours, theirs = tf.function(both, jit_compile=jit_compile)(seed)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy().astype(np.float32))


def test_map_gates_threshold_mu():
    gates = Gates(3, "learned", hard_gates="map")
    gates.build()
    gates.gate_logits.assign([2.0, -1.0, 0.5])  # edges (2,0), (2,1), (1,0)
    c = gates(tf.constant(5), training=False).numpy()
    expected = np.zeros((3, 3), np.float32)
    expected[2, 0] = expected[1, 0] = 1.0
    np.testing.assert_array_equal(c, np.broadcast_to(expected, (5, 3, 3)))


def test_per_batch_gates_are_shared_by_the_batch():
    gates = _gates_with_mu(4, 0.5, per_example=False)
    c = gates(tf.constant(64), training=True).numpy()
    np.testing.assert_array_equal(c, np.broadcast_to(c[:1], c.shape))


@pytest.mark.parametrize("structure", ["independent", "chain", "full", "learned"])
@pytest.mark.parametrize("training", [True, False])
def test_only_edges_from_higher_to_lower_nodes_exist(structure, training):
    gates = Gates(5, structure)
    c = gates(tf.constant(200), training=training).numpy()
    upper = np.triu(np.ones((5, 5), bool))  # i <= j
    assert np.all(c[:, upper] == 0)


def test_structure_masks_are_the_design_table():
    n = 4
    np.testing.assert_array_equal(structure_mask("independent", n), np.zeros((n, n)))
    chain = np.zeros((n, n))
    chain[1, 0] = chain[2, 1] = chain[3, 2] = 1
    np.testing.assert_array_equal(structure_mask("chain", n), chain)
    full = np.array([[float(i > j) for j in range(n)] for i in range(n)])
    np.testing.assert_array_equal(structure_mask("full", n), full)
    for structure in ("independent", "chain", "full"):
        gates = Gates(n, structure)
        np.testing.assert_array_equal(
            gates.edge_probabilities().numpy(), structure_mask(structure, n)
        )
        np.testing.assert_array_equal(
            gates(tf.constant(3), training=True).numpy()[0], structure_mask(structure, n)
        )
    learned = Gates(n, "learned")
    np.testing.assert_allclose(learned.edge_probabilities().numpy(), 0.5 * full)
    assert learned.num_edges == n * (n - 1) // 2


def test_gate_gradients_reach_the_logits_only_when_learned():
    from conftest import tiny_model

    x = np.random.default_rng(0).integers(0, 2, (16, 8, 8, 1)).astype(np.float32)
    model = tiny_model("learned")
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.elbo_terms(x, training=True)["elbo"])
    grad = tape.gradient(loss, model.gates.gate_logits)
    assert grad is not None and np.all(np.isfinite(grad)) and np.any(grad.numpy() != 0)
    for structure in ("independent", "chain", "full"):
        fixed = tiny_model(structure)
        assert fixed.gates.trainable_weights == []
        assert all("gate_logits" not in w.path for w in fixed.trainable_weights)


@pytest.mark.parametrize("tau", [0.0, -1.0, float("nan")])
def test_non_positive_temperature_is_refused(tau):
    with pytest.raises(ValueError, match="temperature"):
        Gates(3, "learned", temperature=tau)


def test_unknown_structure_is_refused():
    with pytest.raises(ValueError, match="structure"):
        Gates(3, "tree")


def test_straight_through_gates_are_hard_forward_with_relaxed_gradients():
    gates = _gates_with_mu(3, 0.6, straight_through=True, temperature=0.5)
    with tf.GradientTape() as tape:
        c = gates(tf.constant(500), training=True, seed=tf.constant([4, 4]))
        objective = tf.reduce_sum(c * tf.range(9, dtype=tf.float32)[None, :, None][:, :3])
    parents, children = edge_indices(3)
    values = c.numpy()[:, parents, children]
    assert set(np.unique(values)) == {0.0, 1.0}
    assert abs(values.mean() - 0.6) < 5 * np.sqrt(0.24 / values.size)
    grad = tape.gradient(objective, gates.gate_logits)
    assert grad is not None and np.any(grad.numpy() != 0)


@pytest.mark.parametrize("tau", [0.5, 0.2, 0.05])
def test_relaxed_gates_are_tfps_samples_with_finite_gradients(tau):
    """The same draws as `tfd.RelaxedBernoulli`, and a finite gradient even where saturated
    gates (mu near 1) round to exactly 1 at low temperature, where TFP's is NaN."""
    from tf_graphvae.layers.gates import relaxed_bernoulli_sample

    logits = tf.Variable([-16.0, -3.0, 0.0, 3.0, 8.0, 16.0])
    seed = tf.constant([1, 2], tf.int32)
    with tf.GradientTape() as tape:
        c = relaxed_bernoulli_sample(logits, tf.constant(tau), 20_000, seed)
        loss = tf.reduce_sum(c * tf.random.stateless_normal(c.shape, [3, 4]))
    grad = tape.gradient(loss, logits)
    assert np.all(np.isfinite(grad.numpy()))
    assert np.any(c.numpy() == 1.0)  # the saturated case really occurs
    expected = tfp.distributions.RelaxedBernoulli(tf.constant(tau), logits=logits).sample(
        20_000, seed=seed
    )
    np.testing.assert_allclose(c, expected, rtol=1e-6, atol=1e-6)


def test_the_map_graph_keeps_the_edges_above_one_half():
    from tf_graphvae.config import map_graph_edges

    mu = np.zeros((3, 3))
    mu[1, 0], mu[2, 0], mu[2, 1] = 0.9, 0.5, 0.2
    mu[0, 1] = 1.0  # above the diagonal: not a possible edge
    assert map_graph_edges(mu) == ([[1, 0]], [[2, 0], [2, 1]])
