"""Users' own networks, data and likelihoods (and the examples that show them)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tf_graphvae as tgv

ROOT = Path(__file__).resolve().parents[1]
tfd = tfp.distributions


def _example(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wine = _example("tabular_wine")


def test_user_sequential_networks_train_save_and_score_real_tabular_data(tmp_path):
    train, test = wine.standardised_wine(seed=0)
    model = wine.build_model(seed=0)
    data = tgv.data.from_arrays(train).shuffle(len(train), seed=0).batch(32)
    loss = model.fit(data, epochs=30, verbose=0).history["loss"]
    # 142 wines, 30 epochs: the loss falls by far more than its epoch-to-epoch noise.
    assert np.mean(loss[-5:]) < np.mean(loss[:5]) - 2.0, loss
    ll = tgv.evaluate.log_likelihood(model, test, num_samples=64, seed=0, progress=False)
    assert ll.shape == (36,) and np.all(np.isfinite(ll))

    path = tmp_path / "wine.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.encoder.name == "wine_encoder" and loaded.likelihood_name == "gaussian"
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    again = tgv.evaluate.log_likelihood(loaded, test, num_samples=64, seed=0, progress=False)
    np.testing.assert_allclose(again, ll, rtol=1e-5, atol=1e-4)


def test_a_decoder_of_the_wrong_width_is_one_error_naming_both_shapes():
    encoder, _ = wine.networks(6)
    decoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(20)])
    with pytest.raises(ValueError, match=r"\[B, 6\].*'B', 20.*'B', 26"):
        tgv.GraphVAE(
            event_shape=(13,), likelihood="gaussian", encoder=encoder, decoder=decoder,
            num_nodes=3, node_dim=2,
        )  # fmt: skip


def test_an_encoder_that_keeps_spatial_axes_is_refused_at_construction():
    encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3)])
    with pytest.raises(ValueError, match=r"features \[B, F\].*\[1, 6, 6, 4\]"):
        tgv.GraphVAE(event_shape=(8, 8, 1), encoder=encoder, num_nodes=2, node_dim=2)


@keras.saving.register_keras_serializable(package="tests")
def laplace(params):
    """A user's likelihood: independent Laplace distributions over 13 features."""
    loc, raw_scale = tf.split(params, 2, axis=-1)
    return tfd.Independent(tfd.Laplace(loc, tf.nn.softplus(raw_scale) + 1e-3), 1)


def test_a_user_likelihood_function_trains_scores_and_round_trips(tmp_path):
    train, test = wine.standardised_wine(seed=1)
    encoder, decoder = wine.networks(6)
    model = tgv.GraphVAE(
        event_shape=(13,), likelihood=laplace, encoder=encoder, decoder=decoder,
        num_nodes=3, node_dim=2, seed=1,
    )  # fmt: skip
    assert model.likelihood_name == "custom"
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(tgv.data.from_arrays(train).batch(32), epochs=2, verbose=0)
    ll = tgv.evaluate.log_likelihood(model, test[:8], num_samples=16, seed=0, progress=False)
    assert np.all(np.isfinite(ll))
    model.save(tmp_path / "laplace.keras")
    loaded = keras.models.load_model(tmp_path / "laplace.keras")
    again = tgv.evaluate.log_likelihood(loaded, test[:8], num_samples=16, seed=0, progress=False)
    np.testing.assert_allclose(again, ll, rtol=1e-5, atol=1e-4)


def test_a_user_likelihood_with_the_wrong_event_is_refused():
    def per_feature(params):  # forgets tfd.Independent: batch [B, 13], event []
        loc, raw = tf.split(params, 2, axis=-1)
        return tfd.Laplace(loc, tf.nn.softplus(raw) + 1e-3)

    encoder, decoder = wine.networks(6)
    with pytest.raises(ValueError, match=r"event shape \(13,\).*batch shape \[1, 13\]"):
        tgv.GraphVAE(
            event_shape=(13,), likelihood=per_feature, encoder=encoder, decoder=decoder,
            num_nodes=3, node_dim=2,
        )  # fmt: skip


def test_built_in_networks_and_the_gaussian_likelihood_model_vectors():
    x = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    model = tgv.GraphVAE(event_shape=(5,), likelihood="gaussian", num_nodes=2, node_dim=2,
                         encoder_units=(16,), decoder_units=(16,))  # fmt: skip
    assert model.network == "mlp" and model.decoder.compute_output_shape((None, 4)) == (None, 10)
    terms = model.elbo_terms(x[:4])
    dist = model.likelihood.distribution(model.decoder(np.zeros((4, 4), np.float32)))
    assert dist.event_shape == (5,) and terms["elbo"].shape == (4,)


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (np.array([[0.0, 0.5], [1.0, 0.2]]), "bernoulli"),
        (np.array([[0, 255], [3, 7]], np.uint8), "discretized_logistic"),
        (np.array([[0.0, 200.0], [3.0, 7.0]], np.float32), "discretized_logistic"),
        (np.array([[-1.2, 0.3], [2.5, 0.0]]), "gaussian"),
        (np.array([[0.5, 300.0]]), "gaussian"),
    ],
)
def test_the_likelihood_is_inferred_from_the_values(x, expected):
    assert tgv.data.infer_likelihood(x) == expected


def test_small_integers_are_not_taken_for_8_bit_data():
    with pytest.raises(ValueError, match=r"Integers in 0\.\.16 are not 8-bit data"):
        tgv.data.infer_likelihood(np.array([[0, 16], [3, 7]], np.int64))
    assert tgv.data.infer_likelihood(np.array([[0, 16]], np.int64) * 10) == "discretized_logistic"


def test_from_arrays_gives_float32_examples_and_checks_them():
    x = np.arange(12, dtype=np.uint8).reshape(3, 2, 2, 1)
    ds = tgv.data.from_arrays(x, labels=[0, 1, 2])
    example, label = next(iter(ds))
    assert example.dtype == tf.float32 and example.shape == (2, 2, 1) and int(label) == 0
    with pytest.raises(ValueError, match=r"bernoulli likelihood needs values in \[0, 1\]"):
        tgv.data.from_arrays(x, "bernoulli")
    with pytest.raises(ValueError, match="NaN"):
        tgv.data.from_arrays(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="2 labels for 3 examples"):
        tgv.data.from_arrays(x, labels=[0, 1])
    with pytest.raises(ValueError, match="at least 2 axes"):
        tgv.data.from_arrays(np.ones(5))


def _wine_npz(path: Path) -> Path:
    train, test = wine.standardised_wine(seed=0)
    np.savez(path, x_train=train, x_test=test)
    return path


def test_an_npz_file_is_a_dataset_with_its_shape_and_likelihood(tmp_path):
    name = f"npz:{_wine_npz(tmp_path / 'wine.npz')}"
    assert tgv.data.event_shape(name) == (13,)
    assert tgv.data.default_likelihood(name) == "gaussian"
    assert tgv.data.load_numpy(name, "test").shape == (36, 13)
    assert len(list(tgv.data.load(name, "train[:100]"))) == 100
    with pytest.raises(ValueError, match="has no array x_train"):
        np.savez(tmp_path / "bad.npz", images=np.zeros((2, 3)))
        tgv.data.event_shape(f"npz:{tmp_path / 'bad.npz'}")


def _run(args, **kwargs):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=env,
        timeout=600, **kwargs,
    )  # fmt: skip


def test_train_command_on_an_npz_file_infers_gaussian_and_mlp(tmp_path):
    npz = _wine_npz(tmp_path / "wine.npz")
    model_dir = tmp_path / "run"
    code = "from tf_graphvae.trainers.cli.train import run; run()"
    result = _run(
        ["-c", code, f"--dataset=npz:{npz}", "--epochs=2", "--batch_size=32", "--num_nodes=2",
         "--node_dim=2", "--nojit_compile", f"--model_dir={model_dir}"]
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    model = keras.models.load_model(next(model_dir.glob("*.keras")))
    assert model.likelihood_name == "gaussian" and model.network == "mlp"
    assert model.event_shape == (13,)
    # Vectors are not pictures: one line says so and no PNG is written.
    assert "No samples.png or reconstructions.png: examples [13] are not images." in (
        result.stdout.splitlines()
    )
    assert not list(model_dir.glob("*.png"))


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        ("tabular_wine.py", ["--epochs=5"], "LL (K = 500)"),
        ("digits_custom_conv.py", ["--epochs=2"], "test LL (K = 200)"),
        ("gated_prior_in_your_model.py", ["--epochs=3"], "training ELBO"),
    ],
)
def test_the_examples_run(script, args, expected):
    result = _run([str(ROOT / "examples" / script), *args])
    assert result.returncode == 0, result.stderr[-2000:]
    assert expected in result.stdout and "edge probabilities" in result.stdout
