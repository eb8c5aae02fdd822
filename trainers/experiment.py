"""One training run, as the `tfgvae-train` command and the experiment commands use it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tf_graphvae import data as tgv_data
from tf_graphvae.io import atomic_path, write_json
from tf_graphvae.layers.gates import validate_structure
from tf_graphvae.model import GraphVAE
from tf_graphvae.trainers.callbacks import EdgeProbabilityHistory, TemperatureAnnealing

MODEL_FILE = "model.keras"
HISTORY_FILE = "history.json"


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (the flags of `tfgvae-train`)."""

    dataset: str = "digits"
    structure: str = "learned"
    num_nodes: int = 5
    node_dim: int = 10
    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0
    data_dir: str | None = None
    train_split: str = "train"
    test_split: str = "test"
    temperature: float = 1.0
    min_temperature: float = 0.5
    anneal_rate: float = 1e-4

    def validate(self) -> TrainConfig:
        if self.dataset not in tgv_data.DATASETS:
            raise ValueError(
                f"Unknown dataset {self.dataset!r}; expected one of {tgv_data.DATASETS}."
            )
        validate_structure(self.structure)
        for name in ("num_nodes", "node_dim", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
        if not np.isfinite(self.learning_rate) or self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}.")
        return self

    @property
    def likelihood(self) -> str:
        return "bernoulli" if self.dataset in tgv_data.BINARY_DATASETS else "discretized_logistic"


def make_datasets(config: TrainConfig) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """Batched training (grey, shuffled per epoch) and test (binarised once, fixed seed) sets."""
    binary = config.likelihood == "bernoulli"
    train = tgv_data.load(config.dataset, config.train_split, config.data_dir)
    test = tgv_data.load(
        config.dataset, config.test_split, config.data_dir, binarize=binary, seed=config.seed
    )
    train = (
        train.cache()
        .shuffle(10_000, seed=config.seed, reshuffle_each_iteration=True)
        .batch(config.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    test = test.cache().batch(config.batch_size).prefetch(tf.data.AUTOTUNE)
    return train, test


def build_model(config: TrainConfig) -> GraphVAE:
    """A compiled GraphVAE for `config`'s dataset."""
    model = GraphVAE(
        event_shape=tgv_data.event_shape(config.dataset),
        num_nodes=config.num_nodes,
        node_dim=config.node_dim,
        structure=config.structure,
        likelihood=config.likelihood,
        temperature=config.temperature,
        seed=config.seed,
    )
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    return model


@dataclasses.dataclass
class TrainResult:
    model: GraphVAE
    history: dict[str, list[float]]
    edge_history: list[np.ndarray]
    test_metrics: dict[str, float]


def train(
    config: TrainConfig,
    model_dir: str | os.PathLike | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int | str = "auto",
) -> TrainResult:
    """Trains a GraphVAE as `config` says, evaluates its test ELBO, saves it in `model_dir`.

    Data is loaded (and so validated) before anything is written.
    """
    config.validate()
    keras.utils.set_random_seed(config.seed)
    train_ds, test_ds = make_datasets(config)
    model = build_model(config)
    edges = EdgeProbabilityHistory()
    annealing = TemperatureAnnealing(
        config.temperature, min(config.min_temperature, config.temperature), config.anneal_rate
    )
    fit = model.fit(
        train_ds,
        epochs=config.epochs,
        callbacks=[annealing, edges, *(callbacks or [])],
        verbose=verbose,
    )
    test_metrics = model.evaluate(test_ds, verbose=0, return_dict=True)
    history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
    if model_dir is not None:
        model_dir = Path(model_dir)
        with atomic_path(model_dir / MODEL_FILE) as tmp:
            model.save(tmp)
        write_json(
            model_dir / HISTORY_FILE,
            {
                "config": dataclasses.asdict(config),
                "history": history,
                "edge_probabilities": [mu.tolist() for mu in edges.history],
                "test": {k: float(v) for k, v in test_metrics.items()},
            },
        )
    return TrainResult(
        model, history, edges.history, {k: float(v) for k, v in test_metrics.items()}
    )
