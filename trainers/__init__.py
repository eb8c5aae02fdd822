"""Orchestration of Graph VAE training: callbacks, strategies and tuning."""

from tf_graphvae.trainers.callbacks import (
    EdgeProbabilityHistory,
    GateHold,
    KLWarmup,
    TemperatureAnnealing,
    temperature_at,
)

__all__ = [
    "EdgeProbabilityHistory",
    "GateHold",
    "KLWarmup",
    "TemperatureAnnealing",
    "temperature_at",
]
