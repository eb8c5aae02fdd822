"""Orchestration of Graph VAE training: callbacks, training runs, strategies and tuning."""

from tf_graphvae.config import TrainConfig
from tf_graphvae.trainers.callbacks import (
    EdgeProbabilityHistory,
    GateHold,
    KLWarmup,
    TemperatureAnnealing,
    temperature_at,
)
from tf_graphvae.trainers.experiment import recipe_callbacks, train

__all__ = [
    "EdgeProbabilityHistory",
    "GateHold",
    "KLWarmup",
    "TemperatureAnnealing",
    "TrainConfig",
    "recipe_callbacks",
    "temperature_at",
    "train",
]
