"""Structure-learning options: score-function gate gradients, edge cost, gates that follow
the ELBO during warm-up, a temperature schedule tied to the warm-up."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_model

import tf_graphvae as tgv
from tf_graphvae import gate_estimators
from tf_graphvae.schedules import temperature_at


def test_leave_one_out_score_function_is_unbiased():
    # f(c) = w . c + 3 c0 c1, so dE[f]/dl_e is known in closed form.
    logits = tf.Variable([0.3, -0.5, 1.0])
    w = tf.constant([1.0, -2.0, 0.5])
    samples, batch = 4, 50_000
    mu = tf.sigmoid(logits)
    c = tf.cast(tf.random.stateless_uniform([samples * batch, 3], [1, 2]) < mu, tf.float32)
    f = tf.linalg.matvec(c, w) + 3.0 * c[:, 0] * c[:, 1]
    with tf.GradientTape() as tape:
        log_prob = gate_estimators.bernoulli_log_prob(c, logits)
        surrogate = gate_estimators.leave_one_out_surrogate(f, log_prob, samples)
    estimate = tape.gradient(surrogate, logits).numpy()
    m = mu.numpy()
    dmu = m * (1 - m)
    exact = np.array([(1.0 + 3.0 * m[1]) * dmu[0], (-2.0 + 3.0 * m[0]) * dmu[1], 0.5 * dmu[2]])
    # Each row's term (f - b)(c - mu) lies in [-6.5, 6.5] (f in [-2, 4.5]), so over 200,000
    # rows the standard error of the estimate is at most 6.5 / sqrt(200,000) = 0.015.
    np.testing.assert_allclose(estimate, exact, atol=0.045)  # 3 SE (bound)
    with pytest.raises(ValueError, match="at least 2"):
        gate_estimators.leave_one_out_surrogate(f, log_prob, 1)


def test_edge_penalty_is_the_expected_edge_count_times_the_cost():
    logits = tf.constant([0.0, 2.0, -2.0])
    expected = 0.7 * float(tf.reduce_sum(tf.sigmoid(logits)))
    assert float(gate_estimators.edge_penalty(logits, 0.7)) == pytest.approx(expected)


def _fit(binary_digits, epochs=3, **kwargs):
    model = tiny_model("learned", num_nodes=3, node_dim=2, gate_learning_rate=3e-2, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    history = model.fit(binary_digits, epochs=epochs, batch_size=128, verbose=0)
    return model, history.history


def test_an_edge_cost_removes_edges_that_do_not_pay(binary_digits):
    free, _ = _fit(binary_digits)
    charged, history = _fit(binary_digits, edge_cost=5.0)
    mu_free = free.gates.edge_values(free.edge_probabilities()).numpy()
    mu_charged = charged.gates.edge_values(charged.edge_probabilities()).numpy()
    # 5 nats per edge per example is more than any edge of this tiny model is worth.
    assert np.all(mu_charged < 0.5) and np.all(mu_charged < mu_free), (mu_charged, mu_free)
    assert np.isfinite(history["loss"]).all()


def test_score_function_training_and_options_round_trip(binary_digits, tmp_path):
    model, history = _fit(
        binary_digits,
        epochs=2,
        gate_estimator="score_function",
        gate_samples=2,
        gate_optimizer="sgd",
        gates_follow_elbo=True,
    )
    assert np.isfinite(history["loss"]).all() and history["loss"][-1] < history["loss"][0]
    assert np.any(model.gates.gate_logits.numpy() != 0.0)  # the gates were trained
    assert isinstance(model.gate_optimizer, keras.optimizers.SGD)
    model.save(tmp_path / "m.keras")
    loaded = tgv.load_model(tmp_path / "m.keras")
    for key in ("gate_estimator", "gate_optimizer", "gates_follow_elbo", "edge_cost"):
        assert loaded.get_config()[key] == model.get_config()[key]
    with pytest.raises(ValueError, match="gate_samples >= 2"):
        tiny_model("learned", gate_estimator="score_function")
    with pytest.raises(ValueError, match="edge_cost"):
        tiny_model("learned", edge_cost=-1.0)


def test_gates_follow_the_elbo_while_the_networks_are_warmed_up(binary_digits):
    model = tiny_model("learned", num_nodes=3, node_dim=2, gates_follow_elbo=True)
    terms = model.forward(tf.constant(binary_digits[:32]), training=True, seed=[1, 2])
    warm = terms["recon"] - 0.0 * terms["kl"]  # beta = 0
    gate_loss = float(model._gate_objective(terms, warm))
    assert gate_loss == pytest.approx(-float(tf.reduce_mean(terms["elbo"])), rel=1e-6)
    plain = tiny_model("learned", num_nodes=3, node_dim=2, gate_estimator="concrete")
    assert not plain._gate_gradient_apart and model._gate_gradient_apart


def test_temperature_reaches_its_floor_at_the_end_of_the_anneal():
    assert temperature_at(0, 1.0, 0.1, 1e-4, anneal_steps=100) == pytest.approx(1.0)
    assert temperature_at(50, 1.0, 0.1, 1e-4, anneal_steps=100) == pytest.approx(0.1**0.5)
    assert temperature_at(100, 1.0, 0.1, 1e-4, anneal_steps=100) == pytest.approx(0.1)
    assert temperature_at(10_000, 1.0, 0.1, 1e-4, anneal_steps=100) == pytest.approx(0.1)
    assert temperature_at(100, 1.0, 0.1, 1e-4) == pytest.approx(np.exp(-1e-2))


def test_a_fixed_graph_trains_and_round_trips(binary_digits, tmp_path):
    model = tiny_model("fixed", num_nodes=3, node_dim=2, edges=[[1, 0], [2, 0]])
    expected = np.zeros((3, 3))
    expected[1, 0] = expected[2, 0] = 1
    np.testing.assert_array_equal(model.edge_probabilities(), expected)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    model.fit(binary_digits[:256], epochs=1, batch_size=128, verbose=0)
    model.save(tmp_path / "fixed.keras")
    loaded = tgv.load_model(tmp_path / "fixed.keras")
    assert loaded.edges == [[2, 0], [1, 0]]
    np.testing.assert_array_equal(loaded.edge_probabilities(), expected)
    with pytest.raises(ValueError, match="needs edges"):
        tiny_model("fixed")
    with pytest.raises(ValueError, match="only for structure"):
        tiny_model("full", edges=[[1, 0]])
    with pytest.raises(ValueError, match="possible edge"):
        tiny_model("fixed", num_nodes=3, edges=[[0, 1]])


def test_the_python_defaults_are_the_commands_recipe(binary_digits):

    from tf_graphvae import data as tgv_data
    from tf_graphvae.config import RUN_MODEL_FIELDS, GraphVAEConfig, TrainConfig

    model = tiny_model("learned")
    train = TrainConfig()
    assert train.model == GraphVAEConfig()  # a run holds the model's own defaults
    # The likelihood and network are None: "as the data call for"; tiny_model sets the sizes.
    set_here = ("likelihood", "network", "num_nodes", "node_dim", "encoder_units",
                "decoder_units", "top_down_units")  # fmt: skip
    for name in RUN_MODEL_FIELDS:
        if name not in set_here:
            assert getattr(model.config, name) == getattr(train.model, name), name
    assert tgv_data.run_likelihood(train) == model.likelihood_name == "bernoulli"
    assert model.gate_optimizer is not None and model.config.kl_warmup_epochs == 5
    # Trained with fit alone, the schedules of the recipe run: beta rises over 5 epochs
    # of this data, tau anneals.
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    history = model.fit(binary_digits[:512], batch_size=128, epochs=2, verbose=0).history
    np.testing.assert_allclose(history["kl_weight"], [3 / 20, 7 / 20], rtol=1e-6)
    expected = [temperature_at(step, 1.0, 0.5, 1e-4) for step in (3, 7)]
    np.testing.assert_allclose(history["temperature"], expected, rtol=1e-5)


def test_schedules_are_exact_with_steps_per_execution(binary_digits):
    logs = {}
    for per_call in (1, 4):
        model = tiny_model("learned", kl_warmup_epochs=1, gate_hold_epochs=1, anneal_rate=0.05)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=per_call, jit_compile=False
        )
        history = model.fit(binary_digits[:1024], batch_size=128, epochs=2, verbose=0).history
        logs[per_call] = (history["kl_weight"], history["temperature"])
        assert float(model.gate_optimizer.learning_rate.numpy()) == pytest.approx(1e-2)
    np.testing.assert_allclose(logs[1], logs[4], rtol=1e-6)
    np.testing.assert_allclose(logs[1][0], [7 / 8, 1.0])


def test_a_model_saved_before_the_schedules_were_settings_loads_without_them():
    from tf_graphvae.model import GraphVAE

    config = tiny_model("learned").get_config()
    for key in ("kl_warmup_epochs", "gate_hold_epochs", "anneal_rate", "min_temperature"):
        config.pop(key)
    config["format_version"] = "1.0"
    legacy = GraphVAE.from_config(config)
    assert legacy.config.kl_warmup_epochs == 0 and legacy.config.anneal_rate == 0.0


@pytest.mark.parametrize("how", ["validation_split", "validation_data", "steps_per_epoch"])
def test_the_warmup_counts_epochs_of_what_trains(how, digits):
    """KL warm-up over 2 epochs counts epochs of the training part, whatever validates."""
    import keras

    from tf_graphvae import GraphVAE

    keras.utils.set_random_seed(0)
    model = GraphVAE(event_shape=(8, 8, 1), num_nodes=2, node_dim=2, encoder_units=(16,),
                     decoder_units=(16,), top_down_units=8, kl_warmup_epochs=2, seed=0)  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    x = digits[:512]
    kwargs = {
        "validation_split": dict(x=x, validation_split=0.5),
        "validation_data": dict(x=x[:256], validation_data=x[256:]),
        "steps_per_epoch": dict(x=tf.data.Dataset.from_tensor_slices(x).batch(64).repeat(),
                                steps_per_epoch=4),
    }[how]  # fmt: skip
    batch = {} if how == "steps_per_epoch" else {"batch_size": 64}
    history = model.fit(**kwargs, **batch, epochs=2, verbose=0)
    # 4 training steps per epoch, warm-up over 8: the last step (step 7, counted from 0)
    # has beta = 7/8; counting all 512 images (8 steps per epoch) would give 7/16.
    assert model.steps_per_epoch == 4
    assert history.history["kl_weight"][-1] == pytest.approx(7 / 8)


def test_the_gate_gradient_noise_script_measures_what_a_training_step_gives(binary_digits):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "scripts" / "gate_gradient_noise.py"
    spec = importlib.util.spec_from_file_location("gate_gradient_noise", path)
    noise = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(noise)

    keras.utils.set_random_seed(0)
    model = tiny_model("learned", num_nodes=3, node_dim=2)
    x = tf.constant(binary_digits[:32])
    first, second = model.gate_gradient(x).numpy(), model.gate_gradient(x).numpy()
    assert first.shape == (3,) and np.all(np.isfinite(first)) and not np.allclose(first, second)
    with pytest.raises(ValueError, match="learned structure"):
        tiny_model("full").gate_gradient(x)
    result = noise.measure(model, binary_digits[:32], repeats=8, gate_samples=2)
    assert set(result) == {"as trained", "every gate at mu = 0.5"}
    for by_estimator in result.values():
        concrete, sf = by_estimator["concrete"], by_estimator["score_function"]
        assert np.asarray(concrete["gradients"]).shape == (8, 3)
        # Hard gates and a two-sample baseline: about 20 times the relaxed gradient's spread
        # on this model (SDs from 8 repeats are within a factor 2 of the truth here).
        assert sf["median_sd"] > 3 * concrete["median_sd"] > 0
    table = noise.markdown(result, [[2, 0], [2, 1], [1, 0]], "caption")
    assert "| z2→z0 |" in table and "SD ratio" in table


def test_a_learned_model_is_scored_on_its_map_graph_once_it_has_gates(binary_digits, monkeypatch):
    from tf_graphvae import evaluate, scoring

    calls = []
    real = evaluate.table1_metrics
    monkeypatch.setattr(
        evaluate, "table1_metrics", lambda *a, **k: calls.append(k) or real(*a, **k)
    )
    images = binary_digits[:8]
    one_node = scoring.score(tiny_model("learned", num_nodes=1), images, 4, seed=0,
                             jit_compile=False)  # fmt: skip
    assert len(calls) == 1 and one_node["metrics_map"] == one_node["metrics"]
    three = scoring.score(tiny_model("learned"), images, 4, seed=0, jit_compile=False)
    assert len(calls) == 3 and calls[-1]["hard_gates"] == "map" and "metrics_map" in three
