"""`RunFolder`: the one owner of a training run's folder, its file names and its lock.

Every command, script and benchmark that reads or writes a run goes through this class, so
a file's name is written once and a saved configuration is always read the same way: with
the defaults of fields added since it was written, validated, and any error naming the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tf_graphvae.config.files import lock_holder, run_lock, write_json
from tf_graphvae.config.run import RESOLVED, RESUME_MAY_CHANGE, TrainConfig


class RunFolder:
    """A training run's folder (`tfgvae-train --model_dir`, `tfgvae-compare`'s
    `runs/<row>-seed<k>`).

    Args:
        path: the folder; nothing is created until a file is written.

    Example:
        >>> run = RunFolder("runs/mnist")
        >>> run.model_file.name, run.config_file.name
        ('model.keras', 'config.json')
    """

    MODEL = "model.keras"  # the trained model, written when training ends
    CONFIG = "config.json"  # the TrainConfig, written when training starts
    HISTORY = "history.json"  # per-epoch metrics, schedules and validation scores
    EDGE_PROBABILITIES = "edge_probabilities.json"  # mu per epoch (learned structures)
    CHECKPOINT = "checkpoint"  # Keras's BackupAndRestore folder (resume)
    LOGS = "logs"  # TensorBoard
    EVAL = "eval.json"  # tfgvae-compare's test scores of the run
    EARLY_STOPPING = "early_stopping.json"  # the early-stopping state (resume)
    BEST_WEIGHTS = "best.weights.h5"  # the best epoch's weights under early stopping
    NATIVE_LOG = "tensorflow.log"  # TensorFlow's C++ messages of a multi-worker run
    SAMPLES = "samples.png"  # decoder means of prior samples, written when training ends
    RECONSTRUCTIONS = "reconstructions.png"  # test images beside their reconstructions
    # Inside CHECKPOINT: the epoch's weights (the last two kept) and the file that names
    # them, Keras's BackupAndRestore's own name for it (`keras.callbacks.BackupAndRestore`).
    EPOCH_WEIGHTS = "epoch-{epoch:05d}.weights.h5"
    EPOCH_WEIGHTS_GLOB = "epoch-*.weights.h5"
    CHECKPOINT_METADATA = "training_metadata.json"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @classmethod
    def of_row(cls, output_dir: str | os.PathLike, row: str, seed: int) -> RunFolder:
        """The folder of one row and seed of a comparison in `output_dir`."""
        return cls(Path(output_dir) / "runs" / f"{row}-seed{seed}")

    @classmethod
    def of_rows(cls, output_dir: str | os.PathLike, row: str) -> list[RunFolder]:
        """Every run folder of `row` in the comparison `output_dir`, by seed (numerically:
        seed 10 after seed 2)."""
        runs = (cls(r) for r in (Path(output_dir) / "runs").glob(f"{row}-seed*"))
        return sorted(runs, key=lambda run: run.seed)

    @property
    def seed(self) -> int:
        """The seed in the folder's name, `<row>-seed<k>` as `of_row` writes it.

        Raises:
            ValueError: the name is not of that form.
        """
        row, _, seed = self.path.name.rpartition("-seed")
        if not row or not seed.isdigit():
            raise ValueError(f"{self.path} is not named <row>-seed<k>.")
        return int(seed)

    @property
    def model_file(self) -> Path:
        return self.path / self.MODEL

    @property
    def config_file(self) -> Path:
        return self.path / self.CONFIG

    @property
    def history_file(self) -> Path:
        return self.path / self.HISTORY

    @property
    def edge_probabilities_file(self) -> Path:
        return self.path / self.EDGE_PROBABILITIES

    @property
    def eval_file(self) -> Path:
        return self.path / self.EVAL

    def read_json(self, name: str) -> Any:
        """The JSON file `name` of this run; a ValueError naming the file if it is damaged."""
        path = self.path / name
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON: {error}") from None

    def kept_edge_probabilities(self) -> np.ndarray | None:
        """`mu` `[N, N]` of the weights the run's model kept: under early stopping the best
        epoch's (its weights are restored when training ends), else the last epoch's; None
        where the run kept no gate history. Entry k of the history is `mu` after epoch k."""
        if not self.edge_probabilities_file.exists():
            return None
        history = self.read_json(self.EDGE_PROBABILITIES)["edge_probabilities"]
        stopping = self.read_json(self.HISTORY).get("early_stopping") if (
            self.history_file.exists()) else None  # fmt: skip
        best = (stopping or {}).get("best_epoch")
        kept = best if best is not None and best < len(history) else -1
        return np.asarray(history[kept], np.float64)

    def read_config(self) -> TrainConfig | None:
        """The run's saved `TrainConfig` (None if it holds none), with the defaults of fields
        added after it was written, validated; a ValueError naming the file otherwise."""
        if not self.config_file.exists():
            return None
        try:
            return TrainConfig.from_json(json.loads(self.config_file.read_text())).validate()
        except (ValueError, TypeError) as error:  # json.JSONDecodeError is a ValueError
            raise ValueError(
                f"{self.config_file} is not a valid run configuration: {error}"
            ) from None

    def write_config(self, config: TrainConfig, resolved: dict | None = None) -> None:
        """Writes `config`, and under `"resolved"` what its unset settings resolved to
        (the likelihood and network inferred from the data, XLA or not)."""
        record = config.to_json()
        write_json(self.config_file, record | ({RESOLVED: resolved} if resolved else {}))

    def check_resumable(self, config: TrainConfig) -> None:
        """Refuses a folder that holds a run with another configuration (the fields of
        `RESUME_MAY_CHANGE` excepted)."""
        saved = self.read_config()
        changed = {} if saved is None else saved.differences(config, RESUME_MAY_CHANGE)
        if changed:
            details = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changed.items())
            raise ValueError(
                f"{self.path} holds a run with another configuration ({details}); "
                "use a new --model_dir or restore the flags to resume it."
            )

    def require_model(self) -> Path:
        """The path of the run's model; a FileNotFoundError if training has not written it."""
        if not self.model_file.is_file():
            raise FileNotFoundError(f"{self.path} holds no model ({self.MODEL}); train one first.")
        return self.model_file

    def require_idle(self) -> None:
        """Refuses a folder that a running training holds (its files are being written)."""
        holder = self.lock_holder()
        if holder is not None:
            raise ValueError(
                f"{self.path} is in use by a running training (pid {holder}); use it when "
                "the training has ended."
            )

    def model_damaged(self) -> bool:
        """Whether the model file is not a readable zip archive (a `.keras` file is one)."""
        try:
            with zipfile.ZipFile(self.model_file) as archive:
                return archive.testzip() is not None
        except (zipfile.BadZipFile, OSError):
            return True

    def lock_holder(self) -> str | None:
        """The pid of a running training that holds this folder, or None."""
        return lock_holder(self.path)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Holds the folder for one training process (`files.run_lock`)."""
        with run_lock(self.path):
            yield
