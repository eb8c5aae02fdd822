"""The MDL price of an edge: w ln(n) / (2 n) nats per example for its w top-down weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import tiny_model

from tf_graphvae.config import TrainConfig, edge_indices, mdl_edge_prices


def test_mdl_prices_by_hand_for_nodes_of_different_sizes():
    # Nodes z0, z1, z2 of sizes 3, 2, 1; TD_j's of 4 hidden units; 1,000 training images.
    # Edges in the gates' order: z2->z0, z2->z1 (1 x 4 weights each), z1->z0 (2 x 4).
    prices = mdl_edge_prices([3, 2, 1], top_down_units=4, num_train=1000)
    per_weight = math.log(1000) / 2000  # 0.0034539 nats per weight per example
    np.testing.assert_allclose(prices, [4 * per_weight, 4 * per_weight, 8 * per_weight])
    np.testing.assert_allclose(prices, [0.0138155, 0.0138155, 0.0276310], rtol=1e-5)
    assert [tuple(e) for e in zip(*edge_indices(3), strict=True)] == [(2, 0), (2, 1), (1, 0)]
    # Today's MNIST model: 10 x 128 weights per edge, 54,000 training images: 0.129 nats.
    assert mdl_edge_prices([10] * 5, 128, 54_000)[0] == pytest.approx(0.12915, abs=1e-5)
    with pytest.raises(ValueError, match="at least 2"):
        mdl_edge_prices([1, 1], 4, 1)


def test_the_penalty_charges_each_edge_its_price_times_the_warmup_weight():
    prices = [0.5, 0.25, 2.0]
    model = tiny_model("learned", node_dims=[3, 2, 1], edge_costs=prices, edge_cost_warmup=True)
    model.gates.gate_logits.assign([0.0, 2.0, -1.0])
    mu = 1 / (1 + np.exp(-np.array([0.0, 2.0, -1.0])))
    model.kl_weight.assign(0.3)
    np.testing.assert_allclose(float(model._edge_penalty()), 0.3 * np.dot(prices, mu), rtol=1e-6)
    fixed = tiny_model("learned", edge_cost=0.5)  # one price, charged in full from the start
    fixed.gates.gate_logits.assign([0.0, 2.0, -1.0])
    fixed.kl_weight.assign(0.3)
    np.testing.assert_allclose(float(fixed._edge_penalty()), 0.5 * mu.sum(), rtol=1e-6)


def test_edge_price_mdl_prices_the_run_from_its_training_split():
    from tf_graphvae.trainers.resolve import resolve

    config = TrainConfig.from_flat(dataset="digits", train_split="train@fit10%", num_nodes=3,
                         node_dims=[3, 2, 1], edge_price="mdl").validate()  # fmt: skip
    run = resolve(config)
    options = run.model_arguments()
    import tf_graphvae as tgv

    n = len(tgv.data.load_numpy("digits", "train@fit10%"))
    assert options["edge_cost_warmup"] is True and run.train_examples == n
    assert run.record()["model"]["edge_costs"] == pytest.approx(options["edge_costs"])
    np.testing.assert_allclose(options["edge_costs"], mdl_edge_prices([3, 2, 1], 128, n))
    with pytest.raises(ValueError, match="3 prices"):
        TrainConfig.from_flat(num_nodes=3, edge_costs=[0.1]).validate()


def test_a_priced_run_records_its_prices_and_their_schedule(tmp_path):
    from tf_graphvae.config import RunFolder
    from tf_graphvae.trainers.experiment import train

    config = TrainConfig.from_flat(
        dataset="digits", train_split="train@fit10%", test_split="test", epochs=1,
        num_nodes=3, node_dims=[3, 2, 1], edge_price="mdl", gate_hold_epochs=1,
        anneal_after_hold=True, batch_size=256, jit_compile=False, steps_per_execution=1,
    ).validate()  # fmt: skip
    train(config, tmp_path / "run", verbose=0, tensorboard=False)
    import tf_graphvae as tgv

    n = len(tgv.data.load_numpy("digits", "train@fit10%"))
    resolved = RunFolder(tmp_path / "run").read_json("config.json")["resolved"]["model"]
    np.testing.assert_allclose(resolved["edge_costs"], mdl_edge_prices([3, 2, 1], 128, n))
    assert resolved["edge_cost_warmup"] is True
    assert resolved["gate_hold_epochs"] == 1 and resolved["anneal_after_hold"] is True
    assert resolved["top_down_units"] == 128 and resolved["node_dims"] == [3, 2, 1]


def test_tau_waits_for_the_hold_when_anneal_after_hold():
    held = tiny_model("learned", gate_hold_epochs=2, anneal_after_hold=True, anneal_rate=0.1)
    free = tiny_model("learned", gate_hold_epochs=2, anneal_rate=0.1)
    for model in (held, free):
        model.compile(optimizer="adam")
        model.optimizer.build(model.trainable_variables)
        model.steps_per_epoch = 10
    for step, tau_held in ((5, 1.0), (20, 1.0), (25, math.exp(-0.5))):
        for model in (held, free):
            model.optimizer.iterations.assign(step)
            model._apply_schedules()
        assert float(held.gates.temperature) == pytest.approx(tau_held, rel=1e-5)
        assert float(free.gates.temperature) == pytest.approx(max(0.5, math.exp(-0.1 * step)))
