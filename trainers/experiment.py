"""One training run, as the `tfgvae-train` command and the experiment commands use it."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tf_graphvae import data as tgv_data
from tf_graphvae.io import atomic_path, write_json
from tf_graphvae.layers.gate_estimators import GATE_ESTIMATORS, GATE_OPTIMIZERS
from tf_graphvae.layers.gates import validate_edges, validate_structure
from tf_graphvae.model import DECODE_FROM, GraphVAE
from tf_graphvae.trainers import distribute
from tf_graphvae.trainers.callbacks import (
    AtomicBackupAndRestore,
    EdgeProbabilityHistory,
    GateHold,
    GraphVAETensorBoard,
    KLWarmup,
    StopOnNonFiniteLoss,
    TemperatureAnnealing,
    TimeBudget,
)

MODEL_FILE = "model.keras"
HISTORY_FILE = "history.json"
CONFIG_FILE = "config.json"
EDGE_HISTORY_FILE = "edge_probabilities.json"
CHECKPOINT_DIR = "checkpoint"
# Flags that may differ when a run is resumed (more epochs; the data location; XLA or not).
RESUME_MAY_CHANGE = ("epochs", "data_dir", "jit_compile")


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
    # > 0: tau falls geometrically to min_temperature over this many epochs (anneal_rate
    # unused), e.g. across the KL warm-up, when the structure is decided.
    temperature_anneal_epochs: int = 0
    # The training recipe (README "Making the learned structure earn its place"): the gate
    # logits on their own Adam at 10x the learning rate, and 5 epochs of KL warm-up.
    gate_learning_rate: float | None = 1e-2
    straight_through_gates: bool = False
    kl_warmup_epochs: int = 5
    # One gate sample per example (False: one per batch).
    per_example_gates: bool = True
    # Epochs at the start during which the gates' own Adam does not move them (mu = 0.5).
    gate_hold_epochs: int = 0
    # Gate (and latent) samples per training example (Eq. 1's Monte Carlo estimate).
    gate_samples: int = 1
    # XLA for the train step and the run's evaluation. Off, nothing is compiled: for runs
    # so short that XLA's compile time (7-15 s per function in bench/) outweighs its speed-up.
    jit_compile: bool = True
    # What the decoder reads: "all_nodes", or "bottom_node" (Sønderby's Ladder VAE; only
    # for the fixed structures).
    decode_from: str = "all_nodes"
    # structure="fixed": the present edges [[i, j], ...] (e.g. a learned run's MAP graph).
    edges: list | None = None
    # Structure learning (GraphVAE's arguments of the same names).
    gates_follow_elbo: bool = False
    edge_cost: float = 0.0
    gate_estimator: str = "concrete"
    gate_optimizer: str = "adam"

    def validate(self) -> TrainConfig:
        if self.dataset not in tgv_data.DATASETS:
            raise ValueError(
                f"Unknown dataset {self.dataset!r}; expected one of {tgv_data.DATASETS}."
            )
        validate_structure(self.structure)
        validate_edges(self.structure, self.num_nodes, self.edges)
        minimums = dict(
            num_nodes=1, node_dim=1, epochs=1, batch_size=1, gate_samples=1,
            kl_warmup_epochs=0, gate_hold_epochs=0, temperature_anneal_epochs=0,
        )  # fmt: skip
        for name, minimum in minimums.items():
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
        if not np.isfinite(self.learning_rate) or self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}.")
        if self.decode_from not in DECODE_FROM:
            raise ValueError(
                f"Unknown decode_from {self.decode_from!r}; expected one of {DECODE_FROM}."
            )
        if self.decode_from == "bottom_node" and self.structure == "learned":
            raise ValueError('decode_from="bottom_node" is only for the fixed structures.')
        if not np.isfinite(self.edge_cost) or self.edge_cost < 0:
            raise ValueError(f"edge_cost must be finite and >= 0, got {self.edge_cost!r}.")
        for name, choices in (
            ("gate_estimator", GATE_ESTIMATORS), ("gate_optimizer", GATE_OPTIMIZERS),
        ):  # fmt: skip
            if getattr(self, name) not in choices:
                raise ValueError(
                    f"Unknown {name} {getattr(self, name)!r}; expected one of {choices}."
                )
        if self.gate_estimator == "score_function" and self.gate_samples < 2:
            raise ValueError("gate_estimator=score_function needs gate_samples >= 2.")
        if self.gate_hold_epochs and not self.gate_learning_rate:
            raise ValueError(
                "gate_hold_epochs needs the gates' own optimizer: set gate_learning_rate."
            )
        return self

    @property
    def likelihood(self) -> str:
        return "bernoulli" if self.dataset in tgv_data.BINARY_DATASETS else "discretized_logistic"


def make_datasets(config: TrainConfig) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """Batched training (grey, shuffled per epoch) and test (binarised once) sets."""
    binary = config.likelihood == "bernoulli"
    train = tgv_data.load(config.dataset, config.train_split, config.data_dir)
    # Test images binarised once (data.TEST_SEED): the images of Table 1, for every seed.
    test = tgv_data.load(config.dataset, config.test_split, config.data_dir, binarize=binary)
    train = (
        train.cache()
        .shuffle(10_000, seed=config.seed, reshuffle_each_iteration=True)
        .batch(config.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    test = test.cache().batch(config.batch_size).prefetch(tf.data.AUTOTUNE)
    return train, test


def build_model(config: TrainConfig) -> GraphVAE:
    """A compiled GraphVAE for `config`'s dataset (under the current strategy's scope)."""
    model = GraphVAE(
        event_shape=tgv_data.event_shape(config.dataset),
        num_nodes=config.num_nodes,
        node_dim=config.node_dim,
        structure=config.structure,
        edges=config.edges,
        likelihood=config.likelihood,
        temperature=config.temperature,
        gate_learning_rate=config.gate_learning_rate,
        straight_through_gates=config.straight_through_gates,
        per_example_gates=config.per_example_gates,
        gate_samples=config.gate_samples,
        decode_from=config.decode_from,
        gates_follow_elbo=config.gates_follow_elbo,
        edge_cost=config.edge_cost,
        gate_estimator=config.gate_estimator,
        gate_optimizer=config.gate_optimizer,
        seed=config.seed,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        jit_compile=config.jit_compile and _use_xla(),
    )
    return model


def _use_xla() -> bool:
    """XLA compiles the train step, except across CPU replicas: XLA has no CPU collectives."""
    strategy = tf.distribute.get_strategy()
    return strategy.num_replicas_in_sync == 1 or bool(tf.config.list_logical_devices("GPU"))


@dataclasses.dataclass
class TrainResult:
    model: GraphVAE
    history: dict[str, list[float]]
    edge_history: list[np.ndarray]
    test_metrics: dict[str, float]
    train_seconds: float


def with_defaults(saved: dict) -> dict:
    """A saved `TrainConfig` dict in which a field added after it was written counts as its
    default (the defaults of new fields keep the behaviour of older versions)."""
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    return {**defaults, **saved}


def _check_resumable(model_dir: Path, config: TrainConfig) -> None:
    """Refuses a model_dir that holds a run with another configuration."""
    path = model_dir / CONFIG_FILE
    if path.exists():
        saved = with_defaults(json.loads(path.read_text()))
        ours = dataclasses.asdict(config)
        changed = {
            k: (saved.get(k), v)
            for k, v in ours.items()
            if k not in RESUME_MAY_CHANGE and saved.get(k) != v
        }
        if changed:
            details = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changed.items())
            raise ValueError(
                f"{model_dir} holds a run with another configuration ({details}); "
                "use a new --model_dir or restore the flags to resume it."
            )


def train(
    config: TrainConfig,
    model_dir: str | os.PathLike | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int | str = "auto",
    time_budget: float | None = None,
    tensorboard: bool = True,
    strategy: tf.distribute.Strategy | None = None,
) -> TrainResult:
    """Trains a GraphVAE as `config` says, evaluates its test ELBO, saves it in `model_dir`.

    With a `model_dir`, every epoch leaves a checkpoint (weights, optimizer, epoch) and
    the gate history there, and running the same configuration again resumes from the
    last completed epoch; TensorBoard logs go to `model_dir/logs`. Data is loaded (and
    so validated) before anything is written.

    Args:
        config: the run.
        model_dir: where the model, history, checkpoints and logs go (None: nothing kept).
        callbacks: more Keras callbacks.
        verbose: Keras `fit` verbosity.
        time_budget: stop training after this many seconds (equal-budget comparisons).
        tensorboard: write TensorBoard logs (with a model_dir).
        strategy: a `tf.distribute` strategy (`trainers.distribute.make_strategy`); the
            model, optimizer and metrics are created in its scope, `config.batch_size` is
            the global batch. Under a multi-worker strategy only the chief writes
            `model_dir`; the other workers write to temporary folders they remove.
    """
    config.validate()
    keras.utils.set_random_seed(config.seed)
    train_ds, test_ds = make_datasets(config)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = build_model(config)
    extra = list(callbacks or [])
    edges = EdgeProbabilityHistory()
    worker_dir = None
    if model_dir is not None and not distribute.is_chief():
        # Every worker must take part in saving (collective ops) but only the chief's copy
        # is kept: the others write beside it and remove theirs at the end.
        worker_dir = Path(model_dir) / f".worker-{distribute.worker_id()}"
        model_dir = worker_dir
    if model_dir is not None:
        model_dir = Path(model_dir)
        _check_resumable(model_dir, config)
        model_dir.mkdir(parents=True, exist_ok=True)
        write_json(model_dir / CONFIG_FILE, dataclasses.asdict(config))
        edges = EdgeProbabilityHistory(model_dir / EDGE_HISTORY_FILE)
        extra.append(AtomicBackupAndRestore(model_dir / CHECKPOINT_DIR))
        if tensorboard:
            extra.append(keras.callbacks.TensorBoard(str(model_dir / "logs")))
            extra.append(GraphVAETensorBoard(model_dir / "logs", seed=config.seed))
    if time_budget is not None:
        extra.append(TimeBudget(time_budget))
    steps = int(train_ds.cardinality().numpy())
    if steps < 0:  # unknown cardinality: count the batches once
        steps = sum(1 for _ in train_ds)
    annealing = TemperatureAnnealing(
        config.temperature,
        min(config.min_temperature, config.temperature),
        config.anneal_rate,
        config.temperature_anneal_epochs * steps,
    )
    start = time.monotonic()
    # Schedules first: they add their values to the logs that the history records.
    schedules = [annealing]
    if config.kl_warmup_epochs or config.gate_hold_epochs:
        if config.kl_warmup_epochs:
            schedules.append(KLWarmup(config.kl_warmup_epochs * steps))
        if config.gate_hold_epochs and model.gate_optimizer is not None:
            schedules.append(GateHold(config.gate_hold_epochs * steps))
    guard = StopOnNonFiniteLoss(model_dir / CHECKPOINT_DIR if model_dir else None)
    model.fit(
        train_ds,
        epochs=config.epochs,
        callbacks=[guard, *schedules, edges, *extra],
        verbose=verbose,
        shuffle=False,  # the dataset reshuffles itself every epoch
    )
    train_seconds = time.monotonic() - start
    test_metrics = {
        k: float(v) for k, v in model.evaluate(test_ds, verbose=0, return_dict=True).items()
    }
    history = edges.metrics
    if model_dir is not None:
        with atomic_path(model_dir / MODEL_FILE) as tmp:
            model.save(tmp)
        write_json(
            model_dir / HISTORY_FILE,
            {
                "config": dataclasses.asdict(config),
                "history": history,
                "edge_probabilities": [mu.tolist() for mu in edges.history],
                "test": test_metrics,
                "train_seconds_last_session": train_seconds,
            },
        )
    if worker_dir is not None:
        shutil.rmtree(worker_dir, ignore_errors=True)
    return TrainResult(model, history, edges.history, test_metrics, train_seconds)
