"""Nodes of different sizes (`node_dims`): the model with nodes of those sizes, stored
padded to the largest; the padding feeds no network and adds no term."""

from __future__ import annotations

import subprocess

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from conftest import BIN, tiny_model

import tf_graphvae as tgv
from tf_graphvae.config import TrainConfig

tfd = tfp.distributions
DIMS = [4, 3, 1]


@pytest.fixture(scope="module")
def model():
    return tiny_model("learned", node_dims=DIMS)


def _infer(model, x, seed=(1, 2)):
    gates = model.gates(tf.constant(len(x)), training=False, seed=tf.constant([0, 1]))
    return model.infer(x, gates, tf.constant(seed))


def test_the_densities_are_over_each_nodes_own_dimensions(model, binary_digits):
    assert (model.node_dim, model.dag.latent_dim) == (4, 8)
    out = _infer(model, binary_digits[:16])
    log_q = log_p = 0.0
    for j, d in enumerate(DIMS):
        for key in ("z", "noise", "q_mean", "q_log_var", "p_mean", "p_log_var"):
            np.testing.assert_array_equal(out[key][:, j, d:], 0.0)  # the padding is exactly 0
        q = tfd.Normal(out["q_mean"][:, j, :d], tf.exp(0.5 * out["q_log_var"][:, j, :d]))
        p = tfd.Normal(out["p_mean"][:, j, :d], tf.exp(0.5 * out["p_log_var"][:, j, :d]))
        z = out["z"][:, j, :d]
        log_q += tf.reduce_sum(q.log_prob(z), -1)
        log_p += tf.reduce_sum(p.log_prob(z), -1)
        kl = tf.reduce_sum(tfd.kl_divergence(q, p), -1)
        np.testing.assert_allclose(out["kl_per_node"][:, j], kl, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["log_q"], log_q, rtol=1e-5)
    np.testing.assert_allclose(out["log_p"], log_p, rtol=1e-5)
    samples = model.dag.sample(tf.ones([8, 3, 3]), tf.constant([3, 4]))
    for j, d in enumerate(DIMS):
        np.testing.assert_array_equal(samples[:, j, d:], 0.0)


def test_the_padding_feeds_no_network(model, binary_digits):
    x = binary_digits[:16]
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(_infer(model, x)["elbo"])
    bottom_up, top_down, decoder = (
        model.bottom_up_layer.kernel, model.dag.output_kernel, model.decoder.dense[0].kernel
    )  # fmt: skip
    grads = tape.gradient(loss, [bottom_up, top_down, decoder])
    pad = np.array([[k >= d for k in range(4)] for d in DIMS])  # [N, N']
    # Decoder rows and the heads' columns of the padding get no gradient; the rest do.
    decoder_rows = np.abs(grads[2].numpy()).sum(axis=1).reshape(3, 4)
    assert np.all(decoder_rows[pad] == 0) and np.all(decoder_rows[~pad] > 0)
    heads = np.abs(grads[0].numpy()).sum(axis=0).reshape(3, 4, 2)
    assert np.all(heads[pad] == 0) and np.all(heads[~pad] > 0)
    # TD_0's and TD_1's outputs: N' means, then N' log-variances.
    td_out = np.abs(grads[1].numpy()).sum(axis=1).reshape(2, 2, 4).transpose(0, 2, 1)
    assert np.all(td_out[pad[:2]] == 0) and np.all(td_out[~pad[:2]] > 0)


def test_a_ladder_vae_of_decreasing_sizes_trains_saves_loads_evaluates_exports(
    digits, binary_digits, tmp_path
):
    keras.utils.set_random_seed(0)
    model = tgv.GraphVAE(
        event_shape=(8, 8, 1), num_nodes=5, node_dims=[20, 12, 8, 6, 4], structure="chain",
        decode_from="bottom_node", encoder_units=(32,), decoder_units=(32,),
        top_down_units=16, seed=0,
    )  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    history = model.fit(digits[:256], epochs=2, batch_size=64, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    model.save(tmp_path / "ladder.keras")
    loaded = tgv.load_model(tmp_path / "ladder.keras")
    assert loaded.node_dims == [20, 12, 8, 6, 4] and loaded.dag.latent_dim == 50
    x = binary_digits[:8]
    np.testing.assert_allclose(_infer(loaded, x)["elbo"], _infer(model, x)["elbo"], rtol=1e-5)
    ll = tgv.evaluate.log_likelihood(loaded, x, num_samples=20, jit_compile=False)
    elbo = np.mean([_infer(loaded, x, (s, 9))["elbo"] for s in range(20)], axis=0)
    # The bound of K = 20 lies above the ELBO, by far less than a miscounted padding's
    # log(2 pi) / 2 per dimension (46 nats here) would move it.
    assert np.all(np.isfinite(ll)) and 0 < np.mean(ll - elbo) < 5
    path = tgv.export_sampler(loaded, tmp_path / "exports", log_likelihood_samples=10)
    served = tf.saved_model.load(str(path))
    samples = served.signatures["serving_default"](
        num_samples=tf.constant(3, tf.int64), seed=tf.constant(0, tf.int64)
    )["samples"]
    np.testing.assert_allclose(samples, loaded.sample(3, seed=0), atol=1e-5)


def test_node_dims_must_give_one_size_per_node():
    with pytest.raises(ValueError, match="3 node sizes for num_nodes=5"):
        TrainConfig.from_flat(node_dims=[4, 3, 2]).validate()
    with pytest.raises(ValueError, match="integers >= 1, got '4,0'"):
        TrainConfig.from_flat(num_nodes=2, node_dims=[4, 0]).validate()
    config = TrainConfig.from_flat(num_nodes=3, node_dims=[4, 3, 2]).validate()
    assert config.model.node_dims == [4, 3, 2]
    bad = subprocess.run(
        [str(BIN / "tfgvae-train"), "--num_nodes=2", "--node_dims=4,x"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "tfgvae-train: error: flag --node_dims=['4', 'x']: node_dims must be node sizes, "
        "integers >= 1, got '4,x'."
    )
