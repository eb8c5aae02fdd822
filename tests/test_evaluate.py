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
    out = model.forward(tf.constant(np.repeat(x, k, 0)), training=False, seed=tf.constant([0, 9]))
    log_w = (out["recon"] + out["log_p"] - out["log_q"]).numpy().reshape(len(x), k)
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    rel_se = w.std(axis=1) / w.mean(axis=1) / math.sqrt(k)
    np.testing.assert_array_less(np.abs(estimate - np.array(expected)), 5 * rel_se + 0.02)


def test_chunking_agrees_with_one_big_chunk(trained_tiny, binary_digits):
    x = binary_digits[:20]
    k, seeds = 2000, range(4)

    def estimates(chunk_rows):
        return np.asarray(
            [
                evaluate.log_likelihood(
                    trained_tiny, x, k, chunk_rows=chunk_rows, seed=s, progress=False
                )
                for s in seeds
            ]
        )

    one, many = estimates(k * 20), estimates(250)
    again = evaluate.log_likelihood(trained_tiny, x, k, chunk_rows=250, seed=0, progress=False)
    np.testing.assert_array_equal(many[0], again)  # deterministic for a seed
    # The two chunkings draw different samples: per image, the seed-mean estimates differ
    # by Monte Carlo error, whose variance is measured from the seeds themselves (pooled
    # over both chunkings; a delta-method error from one set of weights understates it
    # for images whose weights are heavy-tailed).
    pooled_var = (one.var(axis=0, ddof=1) + many.var(axis=0, ddof=1)) / 2
    se = np.sqrt(2 * pooled_var / len(seeds))
    np.testing.assert_array_less(np.abs(one.mean(axis=0) - many.mean(axis=0)), 5 * se + 1e-3)
    mean_se = np.sqrt(np.sum(se**2)) / len(x)
    assert abs(one.mean() - many.mean()) < 5 * mean_se + 1e-3


def test_concurrent_calls_give_the_sequential_estimate(trained_tiny, binary_digits):
    """Chunks in flight at once fold in the same order with the same seeds: the estimate,
    ELBO and KL are identical, with several chunks per block and a ragged last block."""
    x = binary_digits[:7]
    kwargs = dict(chunk_rows=300, images_per_batch=3, seed=4, return_terms=True, progress=False)
    sequential = evaluate.log_likelihood(trained_tiny, x, 250, parallel_calls=1, **kwargs)
    for calls in (2, 3):
        concurrent = evaluate.log_likelihood(trained_tiny, x, 250, parallel_calls=calls, **kwargs)
        for a, b in zip(sequential, concurrent, strict=True):
            np.testing.assert_array_equal(a, b)


def test_a_failing_chunk_stops_a_concurrent_evaluation(trained_tiny, binary_digits, monkeypatch):
    """An error in one compiled call reaches the caller; the queued calls are dropped."""
    real = evaluate.weight_function(trained_tiny)
    calls = []

    def failing(x, k, seed):
        calls.append(int(seed[1]))
        if len(calls) == 3:
            raise RuntimeError("chunk failed")
        return real(x, k, seed)

    monkeypatch.setattr(evaluate, "weight_function", lambda *args: failing)
    with pytest.raises(RuntimeError, match="chunk failed"):
        evaluate.log_likelihood(
            trained_tiny, binary_digits[:40], 50, images_per_batch=1, progress=False
        )
    assert len(calls) < 10  # of 40 chunks: the window in flight, not the whole queue


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
    for calls in (0, 1.5, True):
        with pytest.raises(ValueError, match="parallel_calls"):
            evaluate.log_likelihood(trained_tiny, binary_digits[:2], 5, parallel_calls=calls)
    with pytest.raises(ValueError, match="shape"):
        evaluate.log_likelihood(trained_tiny, np.zeros((2, 28, 28, 1), np.float32), 5)
    with pytest.raises(ValueError, match="empty"):
        evaluate.log_likelihood(
            trained_tiny, tf.data.Dataset.from_tensor_slices(np.zeros((0, 8, 8, 1), np.float32)), 5
        )
