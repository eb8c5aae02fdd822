"""One training run, as the `tfgvae-train` command and the experiment commands use it."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tf_graphvae import data as tgv_data
from tf_graphvae import schedules
from tf_graphvae.config import RunFolder, TrainConfig
from tf_graphvae.config.files import atomic_path, write_json
from tf_graphvae.model import GraphVAE
from tf_graphvae.trainers import distribute
from tf_graphvae.trainers.callbacks import (
    AtomicBackupAndRestore,
    EdgeProbabilityHistory,
    GraphVAETensorBoard,
    ResumableEarlyStopping,
    StopOnNonFiniteLoss,
    TimeBudget,
)
from tf_graphvae.trainers.epoch_log import EpochLog
from tf_graphvae.trainers.resolve import ResolvedRun, check_scale, resolve


def make_datasets(
    config: TrainConfig, likelihood: str | None = None
) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """Batched training (grey, shuffled per epoch) and test (binarised once for the
    bernoulli `likelihood`; default the run's, `data.run_likelihood`) sets."""
    train = tgv_data.load(config.dataset, config.train_split, config.data_dir)
    # A buffer as large as the split: every epoch is a uniform permutation of it. A smaller
    # buffer leaves sorted files sorted (Omniglot's are by alphabet: with 10,000 of its
    # 24,345 images, an epoch's first fifth held none of the last quarter's alphabets).
    size = int(train.cardinality())
    train = train.cache().shuffle(size, seed=config.seed, reshuffle_each_iteration=True)
    return _batched(train, config.batch_size), _scored(config, config.test_split, likelihood)


def make_validation(config: TrainConfig, likelihood: str | None = None) -> tf.data.Dataset | None:
    """The batched validation set (binarised once, as the test set), or None."""
    if not config.validation_split:
        return None
    return _scored(config, config.validation_split, likelihood)


def _scored(config: TrainConfig, split: str, likelihood: str | None) -> tf.data.Dataset:
    # Binarised once (data.TEST_SEED): the same 0/1 images for every row, seed and epoch.
    binary = (likelihood or tgv_data.run_likelihood(config)) == "bernoulli"
    images = tgv_data.load(config.dataset, split, config.data_dir, binarize=binary)
    return _batched(images.cache(), config.batch_size)


def _batched(dataset: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    # Autotuning off: with it, `fit` sometimes waits at an epoch's end for tf.data's
    # optimisation thread (tgv_data.without_autotune), which made epoch times jump.
    batches = tgv_data.without_autotune(dataset.batch(batch_size))
    return batches.prefetch(tgv_data.PREFETCH_BATCHES)


def build_model(config: TrainConfig, steps: int | None = None) -> GraphVAE:
    """A compiled GraphVAE for `config` (`resolve(config, steps)`; under the current
    strategy's scope)."""
    return model_from(resolve(config, steps))


def model_from(run: ResolvedRun) -> GraphVAE:
    """The compiled GraphVAE of a resolved run (under the current strategy's scope)."""
    model = GraphVAE(**run.model_arguments())
    model.compile(
        optimizer=make_optimizer(run.config, run.steps),
        jit_compile=run.jit_compile,
        steps_per_execution=_steps_per_execution(run.config),
    )
    return model


def make_optimizer(config: TrainConfig, steps: int | None) -> keras.optimizers.Optimizer:
    """The networks' optimizer: Adam, or AdamW with `weight_decay` (never on the gate
    logits), at `config.learning_rate` under its schedule (`schedules.learning_rate`)."""
    rate = config.learning_rate
    if config.learning_rate_schedule != "constant":
        if not steps:
            raise ValueError(
                f"learning_rate_schedule={config.learning_rate_schedule!r} needs a training "
                "set of known length (its unit is the epoch)."
            )
        rate = schedules.learning_rate(
            config.learning_rate_schedule, config.learning_rate, steps // config.epochs,
            config.epochs, config.learning_rate_decay_epochs,
        )  # fmt: skip
    if not config.weight_decay:
        return keras.optimizers.Adam(rate)
    optimizer = keras.optimizers.AdamW(rate, weight_decay=config.weight_decay)
    optimizer.exclude_from_weight_decay(var_names=["gate_logits"])
    return optimizer


def _steps_per_execution(config: TrainConfig) -> int:
    """The config's, except 1 across workers: Keras's multi-step loop does not build under
    `MultiWorkerMirroredStrategy` (a collective inside its while loop fails)."""
    strategy = tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return 1
    return config.steps_per_execution


@dataclasses.dataclass
class TrainResult:
    model: GraphVAE
    history: dict[str, list[float]]
    edge_history: list[np.ndarray]
    test_metrics: dict[str, float]
    train_seconds: float
    early_stopping: dict | None = None  # best value, best epoch, stopped epoch


def _check_shapes(config: TrainConfig, datasets) -> None:
    """The test and validation examples must have the training examples' shape."""
    shape = tuple(datasets[0].element_spec.shape[1:])
    for name, split, ds in zip(("test", "validation"), (config.test_split,
                               config.validation_split), datasets[1:], strict=True):  # fmt: skip
        if ds is not None and tuple(ds.element_spec.shape[1:]) != shape:
            raise ValueError(
                f"The {name} split {split!r} has examples of shape "
                f"{list(ds.element_spec.shape[1:])}, the training split {list(shape)}."
            )


def own_folder(model_dir: str | os.PathLike) -> Path:
    """The folder this process writes: `model_dir`, or for a worker other than the chief
    `model_dir/.worker-<index>`. Every worker must take part in saving (collective ops)
    but only the chief's copy is kept: the others write beside it and remove theirs at
    the end."""
    if distribute.is_chief():
        return Path(model_dir)
    return Path(model_dir) / f".worker-{distribute.worker_id()}"


def saved_epoch(model_dir: str | os.PathLike) -> int:
    """The last epoch this process checkpointed in `model_dir` (0: none), where a re-run
    resumes from."""
    metadata = own_folder(model_dir) / RunFolder.CHECKPOINT / RunFolder.CHECKPOINT_METADATA
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def train(
    config: TrainConfig,
    model_dir: str | os.PathLike | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int | str = "auto",
    time_budget: float | None = None,
    tensorboard: bool = True,
    strategy: tf.distribute.Strategy | None = None,
    on_resolved: Callable[[ResolvedRun], None] | None = None,
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
        verbose: 2: a line per epoch with its time, the time left and the metrics in
            fixed point, and a bar within the epoch on a terminal (`EpochLog`); else
            Keras `fit`'s verbosity.
        time_budget: stop training after this many seconds (equal-budget comparisons).
        tensorboard: write TensorBoard logs (with a model_dir).
        strategy: a `tf.distribute` strategy (`trainers.distribute.make_strategy`); the
            model, optimizer and metrics are created in its scope, `config.batch_size` is
            the global batch. Under a multi-worker strategy only the chief writes
            `model_dir`; the other workers write to temporary folders they remove.
        on_resolved: called with the resolved run (`resolve.resolve`) before any data is
            loaded for training (`tfgvae-train` prints what the run will model).
    """
    config.validate()
    keras.utils.set_random_seed(config.seed)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():  # XLA or not depends on the replicas
        run = resolve(config)
    if on_resolved is not None:
        on_resolved(run)
    # Bad data is reported before anything is written.
    check_scale(run)
    datasets = (*make_datasets(config, run.likelihood), make_validation(config, run.likelihood))
    _check_shapes(config, datasets)
    worker_dir = None
    if model_dir is not None and not distribute.is_chief():
        worker_dir = own_folder(model_dir)
    folder = None if model_dir is None else RunFolder(own_folder(model_dir))
    if folder is not None:
        folder.check_resumable(config)
    with contextlib.nullcontext() if folder is None else folder.lock():
        result = _fit_and_save(
            run, folder, datasets, list(callbacks or []), verbose, time_budget, tensorboard,
            strategy,
        )  # fmt: skip
    if worker_dir is not None:
        shutil.rmtree(worker_dir, ignore_errors=True)
    return result


def _fit_and_save(
    run, folder, datasets, extra, verbose, time_budget, tensorboard, strategy
) -> TrainResult:
    config, (train_ds, test_ds, validation_ds) = run.config, datasets
    if folder is not None:  # what the run resolved, before the model is built
        folder.write_config(config, run.record())
    with strategy.scope():
        model = model_from(run)
    edges = EdgeProbabilityHistory()
    stopper = None
    if config.early_stopping_patience:
        where = None if folder is None else folder / folder.CHECKPOINT
        stopper = ResumableEarlyStopping(
            config.early_stopping_patience, where, config.early_stopping_min_delta
        )
        extra.insert(0, stopper)  # its state is written before the epoch's checkpoint
    if folder is not None:
        edges = EdgeProbabilityHistory(folder)
        extra.append(AtomicBackupAndRestore(folder / folder.CHECKPOINT))
        if tensorboard:
            extra.append(keras.callbacks.TensorBoard(str(folder / folder.LOGS)))
            extra.append(GraphVAETensorBoard(folder / folder.LOGS, seed=config.seed))
    if time_budget is not None:
        extra.append(TimeBudget(time_budget))
    start = time.monotonic()
    guard = StopOnNonFiniteLoss(folder / folder.CHECKPOINT if folder else None)
    callbacks = [guard, edges, *extra]
    if verbose == 2:  # the commands' lines: fixed point, the time left (`EpochLog`)
        callbacks.append(EpochLog())
        verbose = 0
    # A run that stopped early trains no further when it is run again: fit resumes at the
    # stopping epoch and ends there, leaving the best weights.
    epochs = config.epochs if stopper is None else (stopper.stopped_epoch or config.epochs)
    # shuffle=False: the dataset reshuffles itself every epoch.
    model.fit(
        train_ds, epochs=epochs, callbacks=callbacks, verbose=verbose, shuffle=False,
        validation_data=validation_ds,
    )  # fmt: skip
    train_seconds = time.monotonic() - start
    test_metrics = {
        k: float(v) for k, v in model.evaluate(test_ds, verbose=0, return_dict=True).items()
    }
    history = edges.metrics
    if folder is not None:
        with atomic_path(folder.model_file) as tmp:
            model.save(tmp)
        write_json(
            folder.history_file,
            {  # the configuration is config.json's, the gates edge_probabilities.json's
                "history": history,
                "test": test_metrics,
                "early_stopping": None if stopper is None else dict(stopper.state),
                "train_seconds_last_session": train_seconds,
            },
        )
    stopped = None if stopper is None else stopper.state
    return TrainResult(model, history, edges.history, test_metrics, train_seconds, stopped)
