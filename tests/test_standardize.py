"""Continuous data in their own units: `--standardize` and the refusal of raw features."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import run_command, tiny_model

import tf_graphvae as tgv
from tf_graphvae.layers.likelihoods import GaussianLikelihood


def test_the_gaussian_head_in_data_units_is_the_standardised_one_mapped_back():
    rng = np.random.default_rng(0)
    shift, scale = rng.normal(size=6) * 100, rng.uniform(0.5, 50, size=6)
    params = tf.constant(rng.normal(size=(4, 2, 6)), tf.float64)  # events [2, 3]
    plain = GaussianLikelihood(event_ndims=2, dtype="float64")
    mapped = GaussianLikelihood(event_ndims=2, shift=shift, scale=scale, dtype="float64")
    x = rng.normal(size=(4, 2, 3)) * scale.reshape(2, 3) + shift.reshape(2, 3)
    standardised = (x - shift.reshape(2, 3)) / scale.reshape(2, 3)
    # The density of raw x: the standardised density over the Jacobian prod(scale).
    np.testing.assert_allclose(
        mapped.log_prob(params, x), plain.log_prob(params, standardised) - np.log(scale).sum(),
        rtol=1e-10,
    )  # fmt: skip
    np.testing.assert_allclose(mapped(params), plain(params) * scale.reshape(2, 3)
                               + shift.reshape(2, 3), rtol=1e-10)  # fmt: skip
    assert GaussianLikelihood.from_config(mapped.get_config()).shift == list(shift)


def test_a_standardising_model_scores_raw_data_as_its_twin_scores_standardised_data():
    rng = np.random.default_rng(1)
    mean, std = rng.normal(size=5) * 50, rng.uniform(1, 20, size=5)
    x = (rng.normal(size=(8, 5)) * std + mean).astype(np.float32)
    stats = {"mean": mean.tolist(), "std": std.tolist()}
    options = dict(event_shape=(5,), likelihood="gaussian", network="mlp")
    raw = tiny_model(standardization=stats, **options)
    twin = tiny_model(**options)  # the same initial weights (same seed)
    a = raw.elbo_terms(x, seed=[3, 4])
    b = twin.elbo_terms(((x - mean) / std).astype(np.float32), seed=[3, 4])
    np.testing.assert_allclose(a["kl"], b["kl"], rtol=1e-5)
    np.testing.assert_allclose(a["recon"], b["recon"] - np.log(std).sum(), rtol=1e-5)
    with pytest.raises(ValueError, match="standardization is for the gaussian likelihood"):
        tiny_model(standardization=stats, event_shape=(5,), likelihood="bernoulli")
    with pytest.raises(ValueError, match="5 values each"):
        tiny_model(standardization={"mean": [0.0], "std": [1.0]}, **options)


def _wine(tmp_path):
    from sklearn.datasets import load_wine

    x = load_wine().data.astype(np.float32)  # 13 features, proline in the 1000s
    path = tmp_path / "wine.npz"
    np.savez(path, x_train=x[:150], x_test=x[150:])
    return path, x[:150]


def test_raw_continuous_features_are_refused_and_trained_standardised(tmp_path):
    path, train = _wine(tmp_path)
    refused = tmp_path / "refused"
    result = run_command("tfgvae-train", f"--dataset=npz:{path}", f"--model_dir={refused}",
                         "--epochs=1", timeout=300)  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("tfgvae-train: error: The features of npz:") and "--standardize" in line
    assert not refused.exists()

    run = tmp_path / "run"
    result = run_command("tfgvae-train", f"--dataset=npz:{path}", f"--model_dir={run}",
                         "--epochs=2", "--standardize", "--num_nodes=2", "--node_dim=2",
                         timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((run / "config.json").read_text())["standardize"] is True

    model = tgv.load_model(run / "model.keras")
    np.testing.assert_allclose(model.standardization["mean"], train.mean(0), rtol=1e-5)
    samples = model.sample(2000, seed=0)  # in the data's units, not standardised ones
    assert abs(np.median(samples[:, 12]) - np.median(train[:, 12])) < 2 * train[:, 12].std()
    assert np.median(samples[:, 12]) > 100  # proline: hundreds, not ~0


def test_the_export_of_a_standardising_model_works_in_the_data_units(tmp_path):
    import tf_graphvae as tgv

    rng = np.random.default_rng(2)
    mean, std = rng.normal(size=5) * 50 + 200, rng.uniform(1, 20, size=5)
    x = (rng.normal(size=(6, 5)) * std + mean).astype(np.float32)
    model = tiny_model(event_shape=(5,), likelihood="gaussian", network="mlp",
                       standardization={"mean": mean.tolist(), "std": std.tolist()})  # fmt: skip
    loaded = tf.saved_model.load(str(tgv.export_sampler(model, tmp_path / "export")))
    samples = loaded.signatures["serving_default"](
        num_samples=tf.constant(4, tf.int64), seed=tf.constant(7, tf.int64)
    )["samples"].numpy()
    np.testing.assert_allclose(samples, model.sample(4, seed=7), rtol=1e-5)
    # Data units: within 4 std of the data mean (every mean here is > 12 std from 0).
    assert np.all(np.abs(samples.mean(0) - mean) < 4 * std)
    reconstruction = loaded.signatures["reconstruct"](images=tf.constant(x))["reconstruction"]
    np.testing.assert_allclose(reconstruction.numpy(), model.reconstruct(x), rtol=1e-4)
    ll = loaded.signatures["log_likelihood"](images=tf.constant(x))["log_likelihood"].numpy()
    assert ll.shape == (6,) and np.all(np.isfinite(ll))
