"""The networks' learning-rate schedule: a function of the optimizer's step, so a run
resumed mid-schedule follows it exactly, and AdamW's weight decay spares the gates."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tf_graphvae import schedules
from tf_graphvae.config import TrainConfig
from tf_graphvae.trainers import experiment

STEPS_PER_EPOCH = -(-1437 // 256)  # the digits' training split, batch 256


class _Rates(keras.callbacks.Callback):
    """`{step: learning rate}` of every step a `fit` runs."""

    def __init__(self):
        super().__init__()
        self.rates = {}

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        self.rates[int(optimizer.iterations)] = float(optimizer.learning_rate)


def _config(epochs: int, **settings) -> TrainConfig:
    return TrainConfig.from_flat(
        dataset="digits", num_nodes=2, node_dim=2, batch_size=256, epochs=epochs,
        jit_compile=False, steps_per_execution=1, learning_rate_schedule="exponential",
        learning_rate_decay_epochs=2, **settings,
    ).validate()  # fmt: skip


def test_a_run_resumed_mid_schedule_gets_the_same_rate_at_every_step(tmp_path):
    whole, resumed = _Rates(), _Rates()
    experiment.train(_config(4), tmp_path / "whole", callbacks=[whole], verbose=0,
                     tensorboard=False)  # fmt: skip
    experiment.train(_config(2), tmp_path / "resumed", verbose=0, tensorboard=False)
    experiment.train(_config(4), tmp_path / "resumed", callbacks=[resumed], verbose=0,
                     tensorboard=False)  # fmt: skip
    assert sorted(whole.rates) == list(range(4 * STEPS_PER_EPOCH))
    assert sorted(resumed.rates) == list(range(2 * STEPS_PER_EPOCH, 4 * STEPS_PER_EPOCH))
    for step, rate in resumed.rates.items():
        assert rate == pytest.approx(whole.rates[step], rel=1e-6), step
        # a tenth every 2 epochs, smoothly: 1e-3 * 0.1 ** (step / (2 * steps per epoch))
        assert rate == pytest.approx(1e-3 * 0.1 ** (step / (2 * STEPS_PER_EPOCH)), rel=1e-5)


def test_the_iwae_stages_and_cosine_end():
    iwae = schedules.learning_rate("iwae", 1e-3, steps_per_epoch=10, epochs=50)
    # stage i of 3^i epochs: epoch 0 | 1-3 | 4-12 | 13-39, at 1e-3 * 10^(-i/7)
    for step, stage in ((5, 0), (15, 1), (45, 2), (135, 3), (395, 3), (405, 4)):
        assert float(iwae(np.int64(step))) == pytest.approx(1e-3 * 10 ** (-stage / 7), rel=1e-5)
    cosine = schedules.learning_rate("cosine", 1e-3, steps_per_epoch=10, epochs=50)
    assert float(cosine(np.int64(500))) == pytest.approx(1e-5, rel=1e-3)
    assert schedules.learning_rate("constant", 1e-3, 10, 50) == 1e-3


def test_weight_decay_is_adamw_without_the_gate_logits():
    model = experiment.build_model(_config(1, weight_decay=1e-4, gate_learning_rate=0), 6)
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.AdamW) and optimizer.weight_decay == 1e-4
    gates = model.gates.gate_logits
    kernel = next(v for v in model.trainable_variables if "kernel" in v.path)
    assert not optimizer._use_weight_decay(gates) and optimizer._use_weight_decay(kernel)
