"""Keras callbacks of Graph VAE training: the gate temperature schedule and the gate log."""

from __future__ import annotations

import math

import keras
import numpy as np

from tf_graphvae.layers.gates import validate_temperature


def temperature_at(step: int, initial: float, floor: float, rate: float) -> float:
    """`tau(step) = max(floor, initial * exp(-rate * step))` (Jang et al., 2017)."""
    return max(floor, initial * math.exp(-rate * step))


class TemperatureAnnealing(keras.callbacks.Callback):
    """Anneals the relaxed gates' temperature `tau` before every training batch.

    The schedule is a function of the optimizer's step counter, so a resumed run
    continues it where it stopped. The current `tau` is added to the epoch logs as
    `temperature` (and so reaches `History`, CSV and TensorBoard callbacks).

    Args:
        initial: `tau` at step 0 (> 0).
        floor: the lowest `tau` (> 0, <= initial).
        rate: decay per optimizer step (>= 0).
    """

    def __init__(self, initial: float = 1.0, floor: float = 0.5, rate: float = 1e-4):
        super().__init__()
        self.initial = validate_temperature(initial)
        self.floor = validate_temperature(floor)
        if self.floor > self.initial:
            raise ValueError(f"The temperature floor {floor} exceeds the initial value {initial}.")
        if not math.isfinite(rate) or rate < 0:
            raise ValueError(f"The annealing rate must be >= 0, got {rate!r}.")
        self.rate = float(rate)

    def _value(self) -> float:
        step = int(self.model.optimizer.iterations.numpy())
        return temperature_at(step, self.initial, self.floor, self.rate)

    def on_train_batch_begin(self, batch, logs=None):
        self.model.gates.temperature.assign(self._value())

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["temperature"] = float(self.model.gates.temperature.numpy())


class EdgeProbabilityHistory(keras.callbacks.Callback):
    """Records every edge probability `mu[i, j]` at the start and after every epoch.

    `self.history` is a list of `[N, N]` arrays (entry 0 before training): the
    trajectories of the paper's Figure 2a.
    """

    def __init__(self):
        super().__init__()
        self.history: list[np.ndarray] = []

    def on_train_begin(self, logs=None):
        if not self.history:
            self.history.append(self.model.edge_probabilities())

    def on_epoch_end(self, epoch, logs=None):
        self.history.append(self.model.edge_probabilities())
