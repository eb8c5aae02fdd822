"""GraphVAE: training on real data, serialisation, the public API and bad input."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from conftest import tiny_model

import tf_graphvae as tgv


@pytest.mark.parametrize("structure", ["independent", "chain", "full", "learned"])
def test_a_few_steps_of_fit_lower_the_loss(structure, small_real_images):
    x = small_real_images
    model = tgv.GraphVAE(
        event_shape=x.shape[1:],
        num_nodes=3,
        node_dim=4,
        structure=structure,
        encoder_units=(128, 64),
        decoder_units=(64, 128),
        top_down_units=32,
        seed=1,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = model.evaluate(x, batch_size=256, verbose=0, return_dict=True)
    history = model.fit(x, batch_size=64, epochs=3, verbose=0)
    after = model.evaluate(x, batch_size=256, verbose=0, return_dict=True)
    assert set(history.history) >= {"loss", "elbo", "kl", "recon"}
    assert after["loss"] < before["loss"] - 5.0, (before, after)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_keras_round_trip_keeps_structure_and_samples(tmp_path, digits):
    model = tiny_model("learned")
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(digits[:256], batch_size=64, epochs=2, verbose=0)
    assert not np.allclose(model.edge_probabilities()[np.tril_indices(3, -1)], 0.5)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = tgv.load_model(path)
    assert isinstance(loaded, tgv.GraphVAE)
    np.testing.assert_array_equal(loaded.edge_probabilities(), model.edge_probabilities())
    np.testing.assert_array_equal(loaded.sample(4, seed=3), model.sample(4, seed=3))
    x = (digits[:8] > 0.5).astype(np.float32)
    for key, value in model.elbo_terms(x, seed=[1, 2]).items():
        np.testing.assert_allclose(loaded.elbo_terms(x, seed=[1, 2])[key], value, rtol=1e-6)
    assert loaded.get_config() == model.get_config()
    loaded.fit(digits[:128], batch_size=64, epochs=1, verbose=0)  # still trains


def test_public_api_shapes_and_determinism(digits):
    model = tgv.GraphVAE(event_shape=(8, 8, 1), num_nodes=5, node_dim=10)
    mu = model.edge_probabilities()
    assert mu.shape == (5, 5) and isinstance(mu, np.ndarray)
    samples = model.sample(16, seed=0)
    assert samples.shape == (16, 8, 8, 1) and np.all((samples >= 0) & (samples <= 1))
    np.testing.assert_array_equal(samples, model.sample(16, seed=0))
    assert not np.array_equal(samples, model.sample(16, seed=1))
    terms = model.elbo_terms((digits[:6] > 0.5).astype(np.float32))
    assert set(terms) == {"recon", "kl", "elbo"}
    for value in terms.values():
        assert value.shape == (6,)
    np.testing.assert_allclose(terms["elbo"], terms["recon"] - terms["kl"], rtol=1e-5)
    assert np.all(terms["kl"].numpy() >= 0)
    assert np.all(terms["recon"].numpy() <= 0)


def test_labels_in_the_dataset_are_ignored(digits):
    model = tiny_model("chain")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    ds = tf.data.Dataset.from_tensor_slices((digits[:128], np.arange(128))).batch(32)
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_training_binarises_dynamically():
    model = tiny_model()
    x = tf.fill([20_000], 0.3)
    b1 = model.binarize(x, tf.constant([0, 1])).numpy()
    b2 = model.binarize(x, tf.constant([0, 2])).numpy()
    assert set(np.unique(b1)) == {0.0, 1.0}
    assert abs(b1.mean() - 0.3) < 5 * np.sqrt(0.3 * 0.7 / 20_000)
    assert not np.array_equal(b1, b2)


def test_discretized_logistic_is_a_distribution_over_256_values():
    from tf_graphvae.layers import DiscretizedLogisticLikelihood

    head = DiscretizedLogisticLikelihood()
    rng = np.random.default_rng(0)
    params = tf.constant(rng.normal(size=(3, 1, 1, 2)) * [2.0, 3.0], tf.float32)
    values = tf.reshape(tf.range(256, dtype=tf.float32), [256, 1, 1, 1])
    for b in range(3):
        tiled = tf.repeat(params[b : b + 1], 256, axis=0)
        total = tf.reduce_logsumexp(head.log_prob(tiled, values)).numpy()
        assert abs(total) < 1e-3


def test_cifar_shaped_model_trains_a_step():
    x = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3)).astype(np.float32)
    model = tgv.GraphVAE(
        event_shape=(32, 32, 3),
        num_nodes=2,
        node_dim=4,
        likelihood="discretized_logistic",
        encoder_units=(32,),
        decoder_units=(32,),
        top_down_units=8,
    )
    assert model.network == "conv"
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(x, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    samples = model.sample(2, seed=0)
    assert samples.shape == (2, 32, 32, 3) and samples.min() >= 0 and samples.max() <= 255


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_nodes": 0}, "num_nodes"),
        ({"node_dim": 0}, "node_dim"),
        ({"num_nodes": -2}, "num_nodes"),
        ({"structure": "tree"}, "structure"),
        ({"likelihood": "poisson"}, "likelihood"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -0.5}, "temperature"),
        ({"event_shape": (28, 0)}, "event_shape"),
        ({"event_shape": ()}, "event_shape"),
    ],
)
def test_bad_constructor_arguments_name_the_problem(kwargs, match):
    args = {"event_shape": (8, 8, 1), **kwargs}
    with pytest.raises(ValueError, match=match):
        tgv.GraphVAE(**args)


def test_bad_images_name_the_problem():
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    good = np.zeros((4, 8, 8, 1), np.float32)
    with pytest.raises(ValueError, match="shape"):
        model.elbo_terms(np.zeros((4, 28, 28, 1), np.float32))
    with pytest.raises(ValueError, match="shape"):
        model.fit(np.zeros((4, 28, 28, 1), np.float32), verbose=0)
    with pytest.raises(ValueError, match="shape"):
        model.fit(tf.data.Dataset.from_tensor_slices(np.zeros((4, 9, 8, 1))).batch(2), verbose=0)
    nan = good.copy()
    nan[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.elbo_terms(nan)
    with pytest.raises(ValueError, match="NaN"):
        model.fit(nan, verbose=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.elbo_terms(good + 2.0)
    with pytest.raises(ValueError, match="num_samples"):
        model.sample(0)


def test_gate_learning_rate_moves_the_gates_faster(tmp_path, digits):
    x = digits[:256]
    moved = {}
    for gate_lr in (None, 1e-2):
        model = tiny_model("learned", gate_learning_rate=gate_lr)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.fit(x, batch_size=64, epochs=1, verbose=0)  # 4 steps
        moved[gate_lr] = np.abs(model.gates.gate_logits.numpy()).max()
    # Adam moves a parameter by at most about its learning rate per step.
    assert moved[None] <= 4 * 1e-3 * 1.01
    assert moved[1e-2] > 4 * 1e-3 * 2
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = tgv.load_model(path)
    assert loaded.gate_learning_rate == 1e-2 and loaded.gate_optimizer is not None
    np.testing.assert_array_equal(
        loaded.gate_optimizer.variables[1].numpy(), model.gate_optimizer.variables[1].numpy()
    )
    # 0 means what it means on the command line: the gates share the compiled optimizer.
    assert tiny_model("learned", gate_learning_rate=0.0).gate_optimizer is None
    with pytest.raises(ValueError, match="gate_learning_rate"):
        tiny_model("learned", gate_learning_rate=-1e-3)


def test_bernoulli_log_prob_is_tfp_bernoulli_and_broadcasts():
    """The closed form `x l - softplus(l)` is `tfd.Bernoulli`'s log-mass (also for grey x,
    where both are the negative cross-entropy), and `[K, B, ...]` params broadcast
    against `[B, ...]` images as evaluation uses them."""
    from tf_graphvae.layers.likelihoods import BernoulliLikelihood

    rng = np.random.default_rng(0)
    logits = rng.normal(scale=6.0, size=(3, 4, 5, 5, 1))
    binary = (rng.random((4, 5, 5, 1)) < 0.4).astype(np.float64)
    grey = rng.random((4, 5, 5, 1))
    head = BernoulliLikelihood(dtype="float64")
    for x in (binary, grey):
        expected = tfp.distributions.Independent(
            tfp.distributions.Bernoulli(logits=tf.constant(logits), dtype=tf.float64), 3
        ).log_prob(np.broadcast_to(x, logits.shape))
        got = head.log_prob(tf.constant(logits), tf.constant(x))
        assert got.shape == (3, 4)
        np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_bernoulli_log_mass_gradients_are_the_closed_form_and_unbroadcast(jit_compile):
    """`x - sigmoid(l)` for the logits, `l` for the data summed over the `K` samples it was
    broadcast against, as autodiff of the element-wise form gives."""
    from tf_graphvae.layers.likelihoods import bernoulli_log_mass

    rng = np.random.default_rng(1)
    logits = tf.constant(rng.normal(scale=6.0, size=(3, 4, 25)))
    x = tf.constant(rng.random((4, 25)))

    def grads(fn):
        with tf.GradientTape() as tape:
            tape.watch([logits, x])
            y = tf.reduce_sum(fn(logits, x) * tf.constant([1.0, 2.0, 3.0], tf.float64)[:, None])
        return tape.gradient(y, [logits, x])

    def reference(lg, v):
        return tf.reduce_sum(v * lg - tf.nn.softplus(lg), axis=-1)

    got = tf.function(lambda: grads(bernoulli_log_mass), jit_compile=jit_compile)()
    for g, want in zip(got, grads(reference), strict=True):
        assert g.shape == want.shape
        np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-15)


def test_several_gate_samples_per_example(digits):
    """Each example enters the step `gate_samples` times with its own gates: the step's
    ELBO terms are taken over S x B rows, the round trip keeps the setting."""
    model = tiny_model("learned", gate_samples=3)
    seen = []
    original = model.forward

    def spy(x, training, seed=None):
        seen.append(x.shape[0])
        return original(x, training, seed)

    model.forward = spy
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)
    history = model.fit(digits[:16], batch_size=16, epochs=1, verbose=0)
    assert seen == [48] and np.isfinite(history.history["loss"][0])
    assert tgv.GraphVAE.from_config(model.get_config()).gate_samples == 3
    with pytest.raises(ValueError, match="gate_samples"):
        tiny_model("learned", gate_samples=0)


def test_bulk_draws_name_philox_and_keep_their_values():
    """Binarisation and latent noise name Philox (a static algorithm under XLA, see
    `layers/noise.py`) and use the uniforms the default algorithm draws, with and without
    XLA (the noise is their normal quantile)."""
    from tf_graphvae.layers.noise import normal_quantile, stateless_normal

    model = tiny_model("learned")
    x = tf.random.stateless_uniform([16, 8, 8, 1], seed=[0, 1])
    seed = tf.constant([3, 4], tf.int32)

    def default_binarize(seed):
        return tf.cast(tf.random.stateless_uniform(x.shape, seed=seed) < x, x.dtype)

    for jit in (False, True):
        got = tf.function(lambda s: model.binarize(x, s), jit_compile=jit)(seed)
        np.testing.assert_array_equal(got, tf.function(default_binarize, jit_compile=jit)(seed))
        noise = tf.function(lambda s: stateless_normal([64, 3], s), jit_compile=jit)(seed)
        default = tf.function(
            lambda s: normal_quantile(tf.random.stateless_uniform([64, 3], seed=s) + 2.0**-24),
            jit_compile=jit,
        )(seed)
        np.testing.assert_array_equal(noise, default)
    # Both draws are random: a different seed gives different images.
    assert not np.array_equal(model.binarize(x, seed), model.binarize(x, seed + 1))
    graph = tf.function(lambda s: model.binarize(x, s)).get_concrete_function(seed).graph
    ops = {op.type for op in graph.get_operations()}
    assert "StatelessRandomGetKeyCounter" not in ops, ops


def test_fit_before_compile_says_to_compile(digits):
    model = tiny_model("chain")
    with pytest.raises(RuntimeError, match=r"call `compile\(\)` before `fit\(\)`"):
        model.fit(digits[:64], epochs=1, verbose=0)
