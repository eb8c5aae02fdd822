"""Orchestration of Graph VAE training: callbacks, training runs, strategies and tuning."""

from tf_graphvae.config import TrainConfig
from tf_graphvae.trainers.callbacks import (
    EdgeProbabilityHistory,
    temperature_at,
)
from tf_graphvae.trainers.experiment import train

__all__ = [
    "EdgeProbabilityHistory",
    "TrainConfig",
    "temperature_at",
    "train",
]
