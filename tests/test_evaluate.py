"""Importance-weighted log-likelihood: convergence, a closed-form check, chunking, units."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_model

from tf_graphvae import evaluate


@pytest.fixture(scope="module")
def trained_tiny(binary_digits):
    import keras

    model = tiny_model("learned", num_nodes=3, node_dim=2)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(binary_digits, epochs=3, batch_size=128, verbose=0)
    return model


def test_estimate_increases_with_k_and_converges(trained_tiny, binary_digits):
    x = binary_digits[:40]
    per_image = {
        k: evaluate.log_likelihood(trained_tiny, x, k, seed=1, progress=False)
        for k in (1, 10, 100, 1000, 4000)
    }
    ks = sorted(per_image)

    def paired(a, b):
        """Mean and standard error over the images of LL(K = b) - LL(K = a)."""
        diff = per_image[b] - per_image[a]
        return diff.mean(), diff.std(ddof=1) / np.sqrt(len(diff))

    # E[log mean of K weights] is non-decreasing in K: no step down beyond 3 standard
    # errors of the paired difference (the same images, independent samples).
    for a, b in zip(ks, ks[1:], strict=False):
        mean, sem = paired(a, b)
        assert mean >= -3 * sem, (a, b, mean, sem)
    mean, sem = paired(1, 1000)
    assert mean > 3 * sem and mean > 0.1, (mean, sem)
    mean, sem = paired(1000, 4000)  # converged: the last step is small and within its noise
    assert abs(mean) < 0.1 and abs(mean) < 3 * sem + 0.01, (mean, sem)


def test_matches_the_marginal_likelihood_by_quadrature(binary_digits):
    """N = 2 nodes of dimension 1: p(x) = sum_c p(c) ∫∫ p(x|z) p(z1) p(z0|z1,c) dz by a grid."""
    model = tiny_model(
        "learned",
        num_nodes=2,
        node_dim=1,
        encoder_units=(16,),
        decoder_units=(16,),
        top_down_units=8,
        seed=3,
    )
    model.gates.gate_logits.assign([0.4])  # mu = 0.60
    x = binary_digits[:3]
    grid = np.linspace(-7.0, 7.0, 281).astype(np.float32)
    dz = float(grid[1] - grid[0])
    z0, z1 = np.meshgrid(grid, grid, indexing="ij")
    z = np.stack([z0.ravel(), z1.ravel()], axis=1)[:, :, None]  # [G², N=2, N'=1]
    mu = float(tf.sigmoid(model.gates.gate_logits)[0])
    decoder_params = model.decoder(tf.constant(z.reshape(-1, 2)))
    expected = []
    for image in x:
        log_lik = model.likelihood.log_prob(decoder_params, np.repeat(image[None], len(z), 0))
        per_structure = []
        for c, p_c in ((1.0, mu), (0.0, 1 - mu)):
            gates = np.zeros((len(z), 2, 2), np.float32)
            gates[:, 1, 0] = c
            mean, log_var = model.dag(tf.constant(z), tf.constant(gates))
            log_prior = tf.reduce_sum(
                -0.5 * (math.log(2 * math.pi) + log_var + (z - mean) ** 2 / tf.exp(log_var)),
                axis=[1, 2],
            )
            per_structure.append(
                math.log(p_c) + tf.reduce_logsumexp(log_lik + log_prior).numpy() + 2 * math.log(dz)
            )
        expected.append(np.logaddexp(*per_structure))
    k = 5000
    estimate = evaluate.log_likelihood(model, x, k, seed=0, progress=False)
    # Relative standard error of the mean of K weights, from the weights themselves.
    out = model._elbo_terms(
        tf.constant(np.repeat(x, k, 0)), training=False, seed=tf.constant([0, 9])
    )
    log_w = (out["recon"] + out["log_p"] - out["log_q"]).numpy().reshape(len(x), k)
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    rel_se = w.std(axis=1) / w.mean(axis=1) / math.sqrt(k)
    np.testing.assert_array_less(np.abs(estimate - np.array(expected)), 5 * rel_se + 0.02)


def test_chunking_agrees_with_one_big_chunk(trained_tiny, binary_digits):
    x = binary_digits[:20]
    k = 2000
    one = evaluate.log_likelihood(trained_tiny, x, k, chunk_rows=k * 20, seed=0, progress=False)
    many = evaluate.log_likelihood(trained_tiny, x, k, chunk_rows=250, seed=0, progress=False)
    again = evaluate.log_likelihood(trained_tiny, x, k, chunk_rows=250, seed=0, progress=False)
    np.testing.assert_array_equal(many, again)  # deterministic for a seed
    # The two chunkings draw different samples: per image, the estimates differ by Monte
    # Carlo error, whose standard error is the relative spread of the weights / sqrt(K)
    # (delta method), sqrt(2) of it for a difference of two independent estimates.
    log_w = np.asarray(trained_tiny.importance_terms(tf.constant(x), k, tf.constant([5, 5]))[0])
    w = np.exp(log_w - log_w.max(axis=0))
    se = w.std(axis=0) / w.mean(axis=0) / np.sqrt(k)
    np.testing.assert_array_less(np.abs(one - many), 5 * np.sqrt(2) * se + 1e-3)
    assert abs(one.mean() - many.mean()) < 5 * np.sqrt(2 * np.sum(se**2)) / len(x) + 1e-3


def test_bits_per_dim_for_8bit_images():
    import tf_graphvae as tgv

    model = tgv.GraphVAE(
        event_shape=(32, 32, 3),
        num_nodes=2,
        node_dim=2,
        likelihood="discretized_logistic",
        encoder_units=(16,),
        decoder_units=(16,),
        top_down_units=8,
    )
    x = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype(np.float32)
    nats = evaluate.log_likelihood(model, x, 20, seed=0, progress=False)
    metrics = evaluate.table1_metrics(model, x, 20, seed=0, progress=False)
    assert metrics["unit"] == "bits/dim"
    assert metrics["ll"] == pytest.approx(nats.mean() / (3072 * math.log(2)), rel=1e-6)
    assert np.isfinite(metrics["ll"]) and metrics["ll"] < 0.0


def test_bad_arguments(trained_tiny, binary_digits):
    with pytest.raises(ValueError, match="num_samples"):
        evaluate.log_likelihood(trained_tiny, binary_digits[:2], 0)
    with pytest.raises(ValueError, match="shape"):
        evaluate.log_likelihood(trained_tiny, np.zeros((2, 28, 28, 1), np.float32), 5)
    with pytest.raises(ValueError, match="empty"):
        evaluate.log_likelihood(
            trained_tiny, tf.data.Dataset.from_tensor_slices(np.zeros((0, 8, 8, 1), np.float32)), 5
        )
