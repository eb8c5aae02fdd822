"""The Python API's guards, as the commands have them: raw Gaussian features, bad values in a
`tf.data` pipeline, a decoder of the wrong input width, an unregistered likelihood at save,
`node_dims` alone, constant features under `--standardize`, Keras's shuffle warning."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from conftest import tiny_model

import tf_graphvae as tgv
from tf_graphvae.config import TrainConfig
from tf_graphvae.trainers.resolve import resolve

tfd = tfp.distributions


def _compiled(**kwargs):
    model = tiny_model(**kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    return model


def _raw_features(n=64):
    """Features in their own units: one in the hundreds, as the wine data's proline."""
    rng = np.random.default_rng(0)
    return (rng.normal(size=(n, 5)) * [1, 2, 300, 1, 1] + [0, 0, 700, 0, 0]).astype(np.float32)


# ------------------------------------------------------------- 1. raw Gaussian features
def test_fit_refuses_raw_gaussian_features_in_arrays_and_datasets():
    model = _compiled(event_shape=(5,), likelihood="gaussian")
    x = _raw_features()
    pattern = (
        r"far from standardised \(\|mean\| up to 7\d\d, std .* to 2\d\d; .*"
        r"standardization=\{'mean': \[\.\.\.\], 'std': \[\.\.\.\]\}"
    )
    with pytest.raises(ValueError, match=pattern) as refused:
        model.fit(x, batch_size=16, verbose=0)
    assert "\n" not in str(refused.value)
    with pytest.raises(ValueError, match=r"features of the first 4 batches of the dataset"):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), verbose=0)


def test_standardised_or_standardising_gaussian_models_train():
    x = _raw_features()
    z = (x - x.mean(0)) / x.std(0)
    model = _compiled(event_shape=(5,), likelihood="gaussian")
    assert np.isfinite(model.fit(z, batch_size=16, verbose=0).history["loss"][0])
    stats = {"mean": x.mean(0).tolist(), "std": x.std(0).tolist()}
    model = _compiled(event_shape=(5,), likelihood="gaussian", standardization=stats)
    data = tf.data.Dataset.from_tensor_slices(x).batch(16)
    assert np.isfinite(model.fit(data, verbose=0).history["loss"][0])
    # A batch of fewer than 8 examples says too little about the scale to refuse.
    model = _compiled(event_shape=(5,), likelihood="gaussian")
    model.fit(z[:4], batch_size=4, verbose=0)


# ------------------------------------------------------- 2. bad values in a tf.data pipeline
def test_a_nan_or_out_of_range_value_in_a_dataset_is_refused_by_fit_and_evaluate(digits):
    model = _compiled()
    x = digits[:40].copy()
    x[3, 2, 2, 0] = np.nan
    nan = tf.data.Dataset.from_tensor_slices(x).batch(8)
    for run in (model.fit, model.evaluate):
        with pytest.raises(
            ValueError, match=r"^Images in the first batch of the dataset contain 1 NaN or inf"
        ):
            run(nan, verbose=0)
    grey = tf.data.Dataset.from_tensor_slices((digits[:40] * 16.0, np.zeros(40))).batch(8)
    with pytest.raises(
        ValueError,
        match=r"bernoulli likelihood needs images in \[0, 1\], got values in \[0, 16\] in "
        r"the first batch of the dataset\.",
    ):
        model.fit(grey, verbose=0)
    clean = tf.data.Dataset.from_tensor_slices(digits[:40]).batch(8)
    assert np.isfinite(model.evaluate(clean, verbose=0, return_dict=True)["loss"])


# ------------------------------------------------------ 3. a decoder of the wrong input width
def test_a_decoder_of_the_wrong_input_width_is_one_line_naming_both_widths():
    encoder = keras.Sequential([keras.Input((13,)), keras.layers.Dense(8)])
    for decoder in (
        keras.Sequential([keras.Input((7,)), keras.layers.Dense(26)]),
        keras.Sequential([keras.layers.Dense(26)]),  # built below for width 7, no Input
    ):
        if not decoder.built:
            decoder.build((None, 7))
        with pytest.raises(ValueError) as refused:
            tgv.GraphVAE(
                event_shape=(13,), likelihood="gaussian", encoder=encoder, decoder=decoder,
                num_nodes=3, node_dim=2,
            )  # fmt: skip
        message = str(refused.value)
        assert message == (
            "The decoder takes inputs [B, 7]; the model gives it the latent nodes it reads, "
            "concatenated: [B, 6]. Build the decoder for inputs of width 6."
        )


def test_an_encoder_of_the_wrong_input_shape_is_one_line_without_ansi_codes():
    encoder = keras.Sequential([keras.Input((12,)), keras.layers.Dense(8)])
    decoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(26)])
    with pytest.raises(ValueError, match=r"The encoder fails on inputs \['B', 13\]: .*value 12"):
        tgv.GraphVAE(
            event_shape=(13,), likelihood="gaussian", encoder=encoder, decoder=decoder,
            num_nodes=3, node_dim=2,
        )  # fmt: skip


def test_the_padded_width_of_nodes_of_different_sizes_is_what_the_decoder_must_take():
    decoder = keras.Sequential(
        [keras.Input((12,)), keras.layers.Dense(64), keras.layers.Reshape((8, 8, 1))]
    )
    model = tiny_model(node_dims=[4, 3, 1], decoder=decoder)  # 3 nodes padded to 4 each
    assert model.decoder_input_dim == 12


# --------------------------------------------------- 4. an unregistered likelihood function
def _laplace_model(likelihood):
    encoder = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8)])
    decoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(10)])
    return tgv.GraphVAE(
        event_shape=(5,), likelihood=likelihood, encoder=encoder, decoder=decoder,
        num_nodes=2, node_dim=2, seed=0,
    )  # fmt: skip


def _laplace(params):
    loc, raw_scale = tf.split(params, 2, axis=-1)
    return tfd.Independent(tfd.Laplace(loc, tf.nn.softplus(raw_scale) + 1e-3), 1)


@keras.saving.register_keras_serializable(package="test_api_guards")
def registered_laplace(params):
    return _laplace(params)


def test_saving_a_model_with_an_unregistered_likelihood_is_refused_in_one_line(tmp_path):
    def laplace(params):
        return _laplace(params)

    model = _laplace_model(laplace)
    with pytest.raises(
        ValueError,
        match=r"^The likelihood function 'laplace' is not registered with Keras.*"
        r"@keras\.saving\.register_keras_serializable\(package='my_project'\)",
    ):
        model.save(tmp_path / "laplace.keras")
    assert not (tmp_path / "laplace.keras").exists()


def test_a_registered_likelihood_round_trips_and_a_missing_one_is_one_line(tmp_path):
    x = np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32)
    model = _laplace_model(registered_laplace)
    model.save(tmp_path / "laplace.keras")
    loaded = keras.models.load_model(tmp_path / "laplace.keras")
    assert loaded.likelihood.make_distribution is registered_laplace
    np.testing.assert_allclose(
        loaded.elbo_terms(x, seed=[1, 2])["elbo"], model.elbo_terms(x, seed=[1, 2])["elbo"]
    )

    def gone(params):  # saved in a scope that knows it, loaded where nothing does
        return _laplace(params)

    with keras.saving.custom_object_scope({"gone": gone}):
        _laplace_model(gone).save(tmp_path / "gone.keras")
    with pytest.raises(ValueError, match=r"^The saved model's likelihood uses 'gone'.*") as e:
        keras.models.load_model(tmp_path / "gone.keras")
    assert "\n" not in str(e.value) and "custom_objects={'gone': ...}" in str(e.value)
    loaded = keras.models.load_model(tmp_path / "gone.keras", custom_objects={"gone": gone})
    assert loaded.likelihood.make_distribution is gone


# ----------------------------------------------------------------- 5. node_dims alone
def test_num_nodes_follows_node_dims_when_not_given():
    model = tgv.GraphVAE(
        (8, 8, 1), node_dims=[4, 3, 2], encoder_units=(16,), decoder_units=(16,),
        top_down_units=8,
    )  # fmt: skip
    assert (model.num_nodes, model.node_dim, model.dag.latent_dim) == (3, 4, 9)
    with pytest.raises(ValueError, match="node_dims gives 3 node sizes for num_nodes=4"):
        tgv.GraphVAE((8, 8, 1), node_dims=[4, 3, 2], num_nodes=4)
    with pytest.raises(ValueError, match="node_dims must be node sizes"):
        tgv.GraphVAE((8, 8, 1), node_dims=[4, 0])


# ------------------------------------------------ 6. constant features under --standardize
def test_constant_features_under_standardize_get_std_1_with_a_warning(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32) * 5 + 100
    x[:, [1, 4]] = 7.0
    np.savez(tmp_path / "flat.npz", x_train=x[:30], x_test=x[30:])
    config = TrainConfig.from_flat(dataset=f"npz:{tmp_path / 'flat.npz'}", standardize=True)
    with pytest.warns(UserWarning, match=r"^2 of 6 features of npz:.* are constant"):
        run = resolve(config)
    stats = run.feature_stats
    assert run.model.standardization == stats  # the model is built with them
    assert stats["std"][1] == stats["std"][4] == 1.0 and stats["mean"][1] == 7.0
    np.testing.assert_allclose(stats["std"][0], x[:30, 0].std(), rtol=1e-5)


# --------------------------------------------------------- 7. Keras's shuffle warning
def test_fit_of_a_dataset_prints_no_shuffle_warning(digits):
    model = _compiled()
    data = tf.data.Dataset.from_tensor_slices(digits[:32]).batch(16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(data, verbose=0)
    assert not [w for w in caught if "shuffle" in str(w.message)]
    with warnings.catch_warnings(record=True) as caught:  # what the test would see without it
        warnings.simplefilter("always")
        model.fit(data, verbose=0, shuffle=True)
    assert [w for w in caught if "`shuffle=True` was passed" in str(w.message)]
