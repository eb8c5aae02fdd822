"""Keras callbacks of Graph VAE training: the gate temperature schedule and the gate log."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tf_graphvae.config import RunFolder, edge_indices
from tf_graphvae.config.files import atomic_path, write_json
from tf_graphvae.trainers.epoch_log import steps_done


class EdgeProbabilityHistory(keras.callbacks.Callback):
    """Records every edge probability `mu[i, j]` before training and after every epoch.

    `self.history` is a list of `[N, N]` arrays, entry `e` after epoch `e` (entry 0
    before training): the trajectories of the paper's Figure 2a. `self.metrics` holds
    the epoch logs (loss, elbo, kl, recon, temperature, ...), one value per epoch, and
    `epoch_seconds`, each epoch's wall time (the throughput a user gets). With a run
    folder, the gates go to its edge_probabilities.json and the metrics to its
    history.json, each written atomically after every epoch and read back when training
    resumes; entries are indexed by epoch, so a resumed run has no gap and no duplicate.
    """

    def __init__(self, folder: RunFolder | None = None):
        super().__init__()
        self.folder = folder
        self.history: list[np.ndarray] = []
        self.metrics: dict[str, list[float]] = {}

    def on_train_begin(self, logs=None):
        folder = self.folder
        if folder is not None and folder.edge_probabilities_file.exists():
            saved = folder.read_json(folder.EDGE_PROBABILITIES)
            self.history = [np.asarray(mu, np.float32) for mu in saved["edge_probabilities"]]
            # Runs written before history.json took the metrics kept them beside the gates.
            self.metrics = saved.get("metrics", {})
            if folder.history_file.exists():
                self.metrics = folder.read_json(folder.HISTORY).get("history", self.metrics)
        if not self.history:
            self.history.append(self.model.edge_probabilities())

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = {**(logs or {}), "epoch_seconds": time.perf_counter() - self._epoch_start}
        # Entry epoch + 1 belongs to this epoch, whatever a killed run left after it.
        self.history = self.history[: epoch + 1] + [self.model.edge_probabilities()]
        for key, value in logs.items():
            self.metrics[key] = self.metrics.get(key, [])[:epoch] + [float(value)]
        if self.folder is not None:
            gates = {"edge_probabilities": [mu.tolist() for mu in self.history]}
            write_json(self.folder.edge_probabilities_file, gates)
            write_json(self.folder.history_file, {"history": self.metrics})


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training at the first non-finite loss, before anything saves the bad weights.

    Unlike `keras.callbacks.TerminateOnNaN`, which lets the epoch end (and so lets a
    checkpoint callback save the broken weights), it raises `NonFiniteLossError` naming
    the step at once: the last checkpoint stays the last good one.
    """

    def __init__(self, checkpoint_dir: str | Path | None = None):
        super().__init__()
        self.checkpoint_dir = checkpoint_dir
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            step = int(self.model.optimizer.iterations.numpy())
            per_call = int(getattr(self.model, "steps_per_execution", 1) or 1)
            where = f"step {step}" if per_call == 1 else f"steps {step - per_call + 1}..{step}"
            kept = (
                f"; the last good checkpoint (end of epoch {self._epoch}) is kept in "
                f"{self.checkpoint_dir}"
                if self.checkpoint_dir
                else ""
            )
            raise NonFiniteLossError(
                f"Non-finite loss ({loss}) at optimizer {where} "
                f"(epoch {self._epoch + 1}, batch {batch + 1}){kept}."
            )


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` whose every checkpoint is all-or-nothing.

    Weights (with the optimizer state) go to a new file named after the epoch; then
    `training_metadata.json`, which names that file, the epoch and the previous checkpoint,
    is replaced atomically: that rename is the commit. A process killed at any moment
    leaves the previous complete checkpoint, which `fit` resumes from. The checkpoint
    before the latest is kept too: when the latest cannot be read (truncated, or written
    to a full disk), training resumes from the one before and says so.

    Args:
        backup_dir: where the checkpoints go.
        log: where the one-line resume messages go.
    """

    def __init__(self, backup_dir: str | Path, log: Callable[[str], None] = print):
        super().__init__(
            str(backup_dir), save_freq="epoch", delete_checkpoint=False, double_checkpoint=False
        )
        self.log = log

    def _metadata(self) -> dict | None:
        path = Path(self._training_metadata_path)
        return json.loads(path.read_text()) if path.exists() else None

    def _load_model(self):
        metadata = self._metadata()
        if metadata is None:
            return
        if not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        run = Path(self.backup_dir).parent
        total = self.params.get("epochs", "?") if self.params else "?"
        candidates = [(metadata["epoch"], metadata["weights"])]
        if metadata.get("previous"):
            candidates.append((metadata["previous"]["epoch"], metadata["previous"]["weights"]))
        for k, (epoch, name) in enumerate(candidates):
            try:
                self.model.load_weights(Path(self.backup_dir) / name)
            except Exception as error:  # h5py/OSError/ValueError: an unreadable file
                self.log(f"Checkpoint {name} of {run} is unreadable ({type(error).__name__}).")
                continue
            if k:
                self.log(f"Falling back to the previous checkpoint, {name}.")
            self.model._initial_epoch = epoch
            self.log(f"Resuming {run} from epoch {epoch} of {total}")
            return
        raise ValueError(f"No readable checkpoint in {self.backup_dir}; move it away to restart.")

    def _save_model(self):
        backup_dir = Path(self.backup_dir)
        backup_dir.mkdir(parents=True, exist_ok=True)
        name = RunFolder.EPOCH_WEIGHTS.format(epoch=self._current_epoch)
        previous = self._metadata()
        with atomic_path(backup_dir / name) as tmp:
            self.model.save_weights(tmp, overwrite=True)
        record = {"epoch": self._current_epoch, "weights": name}
        if previous is not None and previous["weights"] != name:
            record["previous"] = {"epoch": previous["epoch"], "weights": previous["weights"]}
        write_json(self._training_metadata_path, record)
        keep = {name, record.get("previous", {}).get("weights")}
        for old in backup_dir.glob(RunFolder.EPOCH_WEIGHTS_GLOB):
            if old.name not in keep:
                old.unlink(missing_ok=True)


class CompileNotice(keras.callbacks.Callback):
    """Says, before the first step, that the training step is being compiled, and after
    the first compiled call how long that took: XLA's compilation (7-15 s) is otherwise a
    silence before the first metrics appear."""

    def __init__(self, log: Callable[[str], None] = print):
        super().__init__()
        self.log = log
        self._start = None

    def on_train_begin(self, logs=None):
        how = "with XLA" if self.model.jit_compile else "as a TensorFlow graph"
        self.log(f"Compiling the training step {how} (once per process)...")
        self._start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if self._start is not None:
            seconds = time.monotonic() - self._start
            # Keras's index counts whole calls: 25 for a 12-step epoch at steps_per_execution 25.
            done = steps_done(batch, (self.params or {}).get("steps"))
            steps = f"{done} step{'s' if done > 1 else ''}"
            self.log(f"Compiled and ran the first {steps} in {seconds:.1f} s.")
            self._start = None


class TimeBudget(keras.callbacks.Callback):
    """Stops training once `seconds` of wall-clock time have passed (an equal budget).

    Checked after every batch; the epoch in progress ends there.
    """

    def __init__(self, seconds: float):
        super().__init__()
        if not seconds > 0:
            raise ValueError(f"The time budget must be > 0 seconds, got {seconds!r}.")
        self.seconds = float(seconds)
        self.elapsed = 0.0

    def on_train_begin(self, logs=None):
        self._start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        self.elapsed = time.monotonic() - self._start
        if self.elapsed >= self.seconds:
            self.model.stop_training = True


class ResumableEarlyStopping(keras.callbacks.Callback):
    """Stops once the validation ELBO has gained less than `min_delta` nats over the last
    `patience` epochs, and leaves the model with the best epoch's weights; its state
    survives a stopped process.

    The gain is measured between window means: the mean of the last `patience` epochs'
    values minus the mean of the `patience` before them (so it is checked from epoch
    `2 * patience` on). A single epoch's validation ELBO moves by a few tenths of a nat
    from epoch to epoch (the networks' own SGD noise), so a rule on single values (Keras's
    `EarlyStopping`, whose reference is the best epoch, often a lucky one) stops while the
    curve still rises; window means average that noise out. With `patience=10,
    min_delta=0.5` a run stops once it gains under 0.05 nats per epoch; with
    `min_delta=0`, once the curve stops rising. The weights kept are those of the best
    single epoch. The state and the best weights are written to `directory`
    (`early_stopping.json`, `best.weights.h5`, atomically): a resumed run goes on where the
    killed one was, and a run that had stopped trains no further (`stopped_epoch`: call
    `fit` with that many epochs). Without `directory` the best weights stay in memory.

    Args:
        patience: the window, in epochs (>= 1).
        directory: where the state and the best weights go (None: memory only).
        min_delta: the gain (nats, >= 0) over a window below which training stops.
        monitor: the logged value to maximise.
    """

    STATE_FILE = RunFolder.EARLY_STOPPING
    WEIGHTS_FILE = RunFolder.BEST_WEIGHTS

    def __init__(
        self,
        patience: int,
        directory: str | Path | None = None,
        min_delta: float = 0.0,
        monitor: str = "val_elbo",
    ):
        super().__init__()
        if isinstance(patience, bool) or int(patience) != patience or patience < 1:
            raise ValueError(f"patience must be an integer >= 1, got {patience!r}.")
        if not min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta!r}.")
        self.patience, self.min_delta, self.monitor = int(patience), float(min_delta), monitor
        self.directory = None if directory is None else Path(directory)
        self.state = self._read_state()
        self._best_weights = None

    def _read_state(self) -> dict:
        path = None if self.directory is None else self.directory / self.STATE_FILE
        if path is not None and path.exists():
            return json.loads(path.read_text())
        return {"values": [], "best": None, "best_epoch": 0, "gain": None, "stopped_epoch": None}

    @property
    def stopped_epoch(self) -> int | None:
        """The epoch (1-based) at which training stopped, or None while it goes on."""
        return self.state["stopped_epoch"]

    def window_gain(self) -> float | None:
        """Mean of the last `patience` values minus the mean of the `patience` before."""
        values, w = self.state["values"], self.patience
        if len(values) < 2 * w:
            return None
        return float(np.mean(values[-w:]) - np.mean(values[-2 * w : -w]))

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(f"Early stopping monitors {self.monitor!r}, which fit did not log.")
        state = self.state
        # Indexed by epoch: a resumed run repeats no value and leaves no gap.
        state["values"] = state["values"][:epoch] + [float(value)]
        if math.isfinite(value) and (state["best"] is None or value > state["best"]):
            state.update(best=float(value), best_epoch=epoch + 1)
            self._keep_best()
        state["gain"] = self.window_gain()
        if state["gain"] is not None and not state["gain"] >= self.min_delta:
            state["stopped_epoch"] = epoch + 1
            self.model.stop_training = True
        if self.directory is not None:
            write_json(self.directory / self.STATE_FILE, state)

    def _keep_best(self) -> None:
        if self.directory is None:
            self._best_weights = self.model.get_weights()
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.directory / self.WEIGHTS_FILE) as tmp:
            self.model.save_weights(tmp, overwrite=True)

    def on_train_end(self, logs=None):
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)
        elif self.directory is not None and (self.directory / self.WEIGHTS_FILE).exists():
            self.model.load_weights(self.directory / self.WEIGHTS_FILE)


class GraphVAETensorBoard(keras.callbacks.Callback):
    """Writes what Keras's TensorBoard callback does not: the gates and a grid of samples.

    Every epoch: one scalar `gates/mu_i_j` per possible edge, `gates/temperature`, and
    an image `samples` of `num_images` decoder means (fixed seed, so epochs compare).
    """

    def __init__(self, log_dir: str | Path, num_images: int = 16, seed: int = 0):
        super().__init__()
        self.log_dir = str(log_dir)
        self.num_images = int(num_images)
        self.seed = int(seed)
        self._writer = None

    def on_train_begin(self, logs=None):
        self._writer = tf.summary.create_file_writer(str(Path(self.log_dir) / "gates"))

    def on_epoch_end(self, epoch, logs=None):
        mu = self.model.edge_probabilities()
        images = self.model.sample(self.num_images, seed=self.seed)
        if images.shape[-1] == 3 and images.max() > 1.0:
            images = images / 255.0
        with self._writer.as_default(step=epoch + 1):
            for i, j in zip(*edge_indices(mu.shape[0]), strict=True):
                tf.summary.scalar(f"gates/mu_{i}_{j}", mu[i, j])
            tf.summary.scalar("gates/temperature", self.model.gates.temperature.numpy())
            if images.ndim == 4:  # images; other examples (vectors) have no picture
                tf.summary.image("samples", _grid(images), max_outputs=1)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()


def _grid(images: np.ndarray, ncols: int = 8) -> np.ndarray:
    """`[n, H, W, C]` to one `[1, rows*H, ncols*W, C]` image."""
    n, h, w, c = images.shape
    rows = -(-n // ncols)
    canvas = np.zeros((rows * h, ncols * w, c), np.float32)
    for k in range(n):
        r, q = divmod(k, ncols)
        canvas[r * h : (r + 1) * h, q * w : (q + 1) * w] = images[k]
    return canvas[None]
