"""The recipe options of the literature's baselines: deeper top-down networks
(`top_down_units` as widths), batch normalisation and dropout in the built-in networks;
each a setting with a flag that a saved model and a run's config.json keep, and whose
default leaves the model as it was."""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import run_command, tiny_model

import tf_graphvae as tgv
from tf_graphvae.config import RunFolder, TrainConfig, mdl_edge_prices
from tf_graphvae.layers import GatedDAG
from tf_graphvae.trainers.cli._train_flags import command_line

# tiny_model("learned") as every model before these options had it: the weights of a
# saved .keras file or checkpoint, by path, shape and order.
WEIGHTS_BEFORE = [
    ("kl_weight", ()),
    ("encoder/dense0/kernel", (64, 32)),
    ("encoder/dense0/bias", (32,)),
    ("bottom_up/kernel", (32, 12)),
    ("bottom_up/bias", (12,)),
    ("gates/gate_logits", (3,)),
    ("gates/temperature", ()),
    ("gated_dag/hidden_kernel", (2, 6, 16)),
    ("gated_dag/hidden_bias", (2, 16)),
    ("gated_dag/output_kernel", (2, 16, 4)),
    ("gated_dag/output_bias", (2, 4)),
    ("decoder/dense0/kernel", (6, 32)),
    ("decoder/dense0/bias", (32,)),
    ("decoder/output/kernel", (32, 64)),
    ("decoder/output/bias", (64,)),
]


def _weights(model) -> list[tuple[str, tuple]]:
    """Each weight's path within the model (without the model's own, unique name) and shape."""
    return [(w.path.partition("/")[2] or w.path, tuple(w.shape)) for w in model.weights]


def _fit(model, images, epochs=1):
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    model.fit(images, batch_size=64, epochs=epochs, verbose=0)
    return model


# ------------------------------------------------------------- top-down depth
@pytest.mark.parametrize("units", [16, (16,), [16]])
def test_one_width_is_the_model_of_before(units):
    model = tiny_model("learned", top_down_units=units)
    assert _weights(model) == WEIGHTS_BEFORE
    assert model.top_down_units == 16 and model.get_config()["top_down_units"] == 16


@pytest.mark.parametrize(
    ("widths", "node_dims", "structure"),
    [((16, 8), None, "full"), ((8, 8, 4), [3, 2, 2, 1], "learned")],
)
def test_deeper_top_down_networks_give_the_loop_pass_the_batched_prior(
    widths, node_dims, structure
):
    n, d = (4, 3) if node_dims is None else (len(node_dims), max(node_dims))
    keras.utils.set_random_seed(0)
    dag = GatedDAG(n, d, structure, widths, node_dims)
    dag.build()
    sizes, depth = (n * d, *widths, 2 * d), len(widths)
    names = [("hidden_kernel", "hidden_bias")]
    names += [(f"hidden_kernel_{k}", f"hidden_bias_{k}") for k in range(1, depth)]
    names += [("output_kernel", "output_bias")]
    expected = []
    for k, (kernel, bias) in enumerate(names):  # first layer to output
        expected += [(kernel, (n - 1, sizes[k], sizes[k + 1])), (bias, (n - 1, sizes[k + 1]))]
    assert [(w.name, tuple(w.shape)) for w in dag.weights] == expected
    rng = np.random.default_rng(1)
    for bias in dag.weights[1::2]:  # non-zero biases: a layer's wrong bias row would show
        bias.assign(rng.normal(0, 0.3, bias.shape))
    batch = 6
    data_mean = dag.zero_padding(tf.constant(rng.normal(size=(batch, n, d)), tf.float32))
    data_log_var = dag.zero_padding(tf.constant(rng.normal(0, 0.5, (batch, n, d)), tf.float32))
    mask = np.tril(np.ones((n, n)), -1)
    gates = tf.constant(rng.uniform(size=(batch, n, n)) * mask, tf.float32)
    out = dag.posterior(data_mean, data_log_var, gates, tf.constant([3, 4]))  # the loop
    mean, log_var = dag(out["z"], gates)  # every TD_j at once, on the loop's samples
    np.testing.assert_allclose(mean, out["p_mean"], atol=1e-5)
    np.testing.assert_allclose(log_var, out["p_log_var"], atol=1e-5)
    for j in range(n):  # the one-node form over the parents' kernel rows only
        m_j, lv_j = dag.node_prior(j, [out["z"][:, i] for i in range(j + 1, n)], gates)
        np.testing.assert_allclose(dag.zero_padding(m_j, j), mean[:, j], atol=1e-5)
        np.testing.assert_allclose(dag.zero_padding(lv_j, j), log_var[:, j], atol=1e-5)


def test_a_deeper_top_down_model_trains_under_xla(binary_digits):
    model = tiny_model("learned", top_down_units=(16, 8))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=True)
    history = model.fit(binary_digits[:128], batch_size=64, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    assert np.isfinite(model.sample(4, seed=0)).all()  # the ancestral loop, all layers


def test_an_edge_is_priced_by_the_first_hidden_width():
    one = mdl_edge_prices([3, 2, 1], 4, num_train=1000)
    assert mdl_edge_prices([3, 2, 1], (4, 64), num_train=1000) == one
    assert mdl_edge_prices([3, 2, 1], [4], num_train=1000) == one


# ---------------------------------------------------------- batch normalisation
def _batch_norm_layers(model):
    layers = model.encoder.dense + model.decoder.dense
    return [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]


def test_batch_norm_trains_on_batch_statistics_and_evaluates_per_image(binary_digits):
    model = tiny_model("learned", batch_norm=True)
    norms = _batch_norm_layers(model)
    assert [layer.name for layer in norms] == ["batch_norm0", "batch_norm0"]
    before = [(n.moving_mean.numpy(), n.moving_variance.numpy()) for n in norms]
    _fit(model, binary_digits[:256])
    for layer, (mean, variance) in zip(norms, before, strict=True):  # the training step's
        assert not np.allclose(layer.moving_mean.numpy(), mean)
        assert not np.allclose(layer.moving_variance.numpy(), variance)
    after = [(n.moving_mean.numpy(), n.moving_variance.numpy()) for n in norms]

    def ll(images, k):
        return tgv.evaluate.log_likelihood(model, images, num_samples=k, seed=0, progress=False)

    images, others = binary_digits[:3], binary_digits[[0, 40, 41]]
    # Image 0 in a batch with other images: the same draws (same rows, same seed), so the
    # same estimate when nothing couples the images.
    np.testing.assert_allclose(ll(images, 8)[0], ll(others, 8)[0], rtol=1e-6)
    # Alone or in a batch: with K = 1 the draws of row 0 do not depend on the batch size.
    np.testing.assert_allclose(ll(binary_digits[:1], 1)[0], ll(images, 1)[0], rtol=1e-6)
    for layer, (mean, variance) in zip(norms, after, strict=True):  # evaluation updates none
        np.testing.assert_array_equal(layer.moving_mean.numpy(), mean)
        np.testing.assert_array_equal(layer.moving_variance.numpy(), variance)
    # What the test guards against: batch statistics make image 0's features depend on
    # the images beside it.
    features = [model.encoder(x, training=True)[0].numpy() for x in (images, others)]
    assert not np.allclose(*features)


# One step on one device and under MirroredStrategy over two logical CPUs (in its own
# process: logical devices are set before TensorFlow runs), as tests/scripts/mirrored_step.py.
MIRRORED_BATCH_NORM_STEP = """
import json
import os

os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from sklearn.datasets import load_digits

import tf_graphvae as tgv

x = (load_digits().images[:32, ..., None] / 16.0).astype("float32")


def step(strategy, initial=None):
    with strategy.scope():
        model = tgv.GraphVAE((8, 8, 1), num_nodes=3, node_dim=2, encoder_units=(32,),
                             decoder_units=(32,), top_down_units=16, batch_norm=True, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    if initial is not None:
        model.set_weights(initial)
    before = model.get_weights()
    loss = model.fit(x, batch_size=32, epochs=1, shuffle=False, verbose=0).history["loss"]
    return loss[0], model.get_weights(), before


mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
loss, weights, initial = step(tf.distribute.get_strategy())
mirrored_loss, mirrored_weights, _ = step(mirrored, initial)
diff = max(float(np.abs(a - b).max()) for a, b in zip(weights, mirrored_weights))
print(json.dumps([loss, mirrored_loss, diff]))
"""


def test_batch_norm_on_two_replicas_is_the_single_device_step():
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_BATCH_NORM_STEP], capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    loss, mirrored_loss, weight_diff = json.loads(result.stdout.strip().splitlines()[-1])
    assert mirrored_loss == pytest.approx(loss, rel=1e-5)  # the global batch's statistics
    # Each replica's own statistics would move the weights ~0.02 apart. Float rounding of
    # the all-reduce moves them ~1e-5: an Adam step of 1e-2 is lr * g / (|g| + eps), whose
    # slope in g is up to lr / eps = 1e5 for the smallest gradients. 1e-3 tells them apart.
    assert weight_diff < 1e-3


# --------------------------------------------------------------------- dropout
def test_dropout_is_active_in_training_only(binary_digits):
    x = binary_digits[:16]
    model = tiny_model("learned", dropout=0.5)
    assert [layer.name for layer in model.encoder.dense] == ["dense0", "dropout0"]
    seed = tf.constant([1, 2])
    training = [model.elbo_terms(x, training=True, seed=seed)["elbo"].numpy() for _ in "ab"]
    assert not np.allclose(*training)  # a fresh dropout mask each pass
    evaluation = [model.elbo_terms(x, training=False, seed=seed)["elbo"].numpy() for _ in "ab"]
    np.testing.assert_array_equal(*evaluation)
    features = model.encoder(x, training=False)
    np.testing.assert_allclose(features, model.encoder.dense[0](keras.layers.Flatten()(x)))
    plain = tiny_model("learned")  # the same passes without dropout: equal in training too
    training = [plain.elbo_terms(x, training=True, seed=seed)["elbo"].numpy() for _ in "ab"]
    np.testing.assert_array_equal(*training)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"top_down_units": (16, 0)}, "top_down_units"),
        ({"top_down_units": ()}, "top_down_units"),
        ({"top_down_units": 2.5}, "top_down_units"),
    ],
)
def test_bad_values_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message):
        tiny_model("learned", **options)


# ------------------------------------------------------ saving, runs and flags
def test_the_options_survive_save_and_load(binary_digits, tmp_path):
    options = {"top_down_units": (16, 8), "batch_norm": True, "dropout": 0.2}
    model = _fit(tiny_model("learned", **options), binary_digits[:128])
    model.save(tmp_path / "model.keras")
    loaded = tgv.load_model(tmp_path / "model.keras")
    for name, value in options.items():
        assert getattr(loaded.config, name) == value, name
    assert _weights(loaded) == _weights(model)
    for ours, theirs in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    x = binary_digits[:4]
    np.testing.assert_array_equal(model.encode(x), loaded.encode(x))


def test_a_runs_config_json_keeps_the_options(tmp_path):
    config = TrainConfig.from_flat(top_down_units=(512, 256), batch_norm=True, dropout=0.1)
    folder = RunFolder(tmp_path)
    folder.write_config(config.validate(), resolved={"likelihood": "bernoulli"})
    saved = json.loads(folder.config_file.read_text())["model"]
    options = [saved[name] for name in ("top_down_units", "batch_norm", "dropout")]
    assert options == [[512, 256], True, 0.1]
    assert folder.read_config() == config
    folder.check_resumable(config)
    flags = "--top_down_units=512,256 --batch_norm --dropout=0.1"
    assert flags in command_line(config)  # the command that makes this run
    # A run of before, without the new settings, reads as their defaults: the old model.
    older = {k: v for k, v in TrainConfig().flat().items()
             if k not in ("batch_norm", "dropout")}  # fmt: skip
    folder.config_file.write_text(json.dumps(older))
    model = folder.read_config().model
    assert (model.top_down_units, model.batch_norm, model.dropout) == (128, False, 0.0)


def test_the_flags_are_listed_and_checked():
    result = run_command("tfgvae-train", "--help", timeout=60)
    assert result.returncode == 0
    for flag in ("--top_down_units", "--batch_norm", "--dropout"):
        assert flag in result.stdout, flag
    result = run_command("tfgvae-train", "--top_down_units=512,0", timeout=60)
    assert result.returncode == 2 and "top_down_units" in result.stderr, result.stderr
