"""`tfgvae-train`: train one Graph VAE (or baseline) and save it.

tfgvae-train --dataset=digits --structure=learned --epochs=20 --model_dir=runs/digits
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from absl import flags, logging

from tf_graphvae.config import STRATEGIES, RunFolder, dataset_label
from tf_graphvae.trainers.cli import _train_flags as tf_flags
from tf_graphvae.trainers.cli._common import (
    INTERRUPTED,
    check_data_dir,
    format_matrix,
    run_main,
)

tf_flags.define()

_MODEL_DIR = flags.DEFINE_string(
    "model_dir",
    None,
    "Where the model, history, checkpoints and logs go "
    "(default runs/<dataset>-<structure>); re-running resumes from the last epoch.",
)

_STRATEGY = flags.DEFINE_enum(
    "strategy",
    "default",
    STRATEGIES,
    "default: one device; mirrored: every local GPU; multi_worker: the hosts in TF_CONFIG. "
    "--batch_size is the global batch.",
)
_HEARTBEAT = flags.DEFINE_integer(
    "heartbeat_timeout",
    60,
    "multi_worker: seconds a worker may go silent before the job is aborted (how long "
    "survivors take to stop after a worker dies).",
    lower_bound=1,
)


_SAMPLE_FIGURES = flags.DEFINE_bool(
    "sample_figures",
    True,
    "At the end, write samples.png (decoder means of 64 samples) and reconstructions.png "
    "(16 test images beside their reconstructions) to the run folder; image data only.",
)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise ValueError(f"Unexpected arguments: {' '.join(argv[1:])}")
    config = _config()  # checked before TensorFlow starts
    from tf_graphvae.trainers import distribute, experiment
    from tf_graphvae.trainers.callbacks import CompileNotice
    from tf_graphvae.trainers.resolve import describe

    multi_worker = _STRATEGY.value == "multi_worker"
    model_dir = _model_dir(config)
    if multi_worker and not flags.FLAGS.verbose:
        logging.set_verbosity(logging.WARNING)  # the strategy's ~20 INFO lines per start
        _native_log_to(experiment.own_folder(model_dir) / RunFolder.NATIVE_LOG)
    # First: before other TensorFlow work.
    strategy = distribute.make_strategy(_STRATEGY.value, heartbeat_timeout_s=_HEARTBEAT.value)
    INTERRUPTED["message"] = (
        f"interrupted; the last complete epoch's checkpoint is kept in {model_dir}: run the "
        "same command to resume from it."
    )
    try:
        result = experiment.train(
            config, model_dir=model_dir, verbose=2, strategy=strategy,
            callbacks=[CompileNotice(lambda line: print(line, flush=True))],
            on_resolved=lambda run: print(describe(run), flush=True),
        )  # fmt: skip
    except KeyboardInterrupt:
        saved = experiment.saved_epoch(model_dir)
        INTERRUPTED["message"] = (
            f"interrupted in epoch {saved + 1} of {config.epochs}; run the same command to "
            f"resume from epoch {saved}."
        )
        raise
    except Exception as error:
        if not multi_worker or flags.FLAGS.verbose or not distribute.is_worker_lost(error):
            raise
        saved = experiment.saved_epoch(model_dir)
        message = distribute.worker_lost_message(error, saved, config.epochs)
        log = experiment.own_folder(model_dir) / RunFolder.NATIVE_LOG
        print(f"tfgvae-train: error: {message} TensorFlow's messages: {log}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # TensorFlow's collective threads can hold an aborted process at exit: leave now.
        os._exit(distribute.WORKER_LOST_EXIT)
    if not distribute.is_chief():
        return
    test = result.test_metrics
    folder = RunFolder(model_dir)
    print(f"\nSaved {folder.model_file}")
    print(
        f"Test ({config.dataset} {config.test_split}, {config.model.structure}): "
        f"ELBO {test['elbo']:.2f}  KL {test['kl']:.2f}  log p(x|z) {test['recon']:.2f} nats"
    )
    print("Edge probabilities mu[parent, child]:")
    print(format_matrix(result.model.edge_probabilities()))
    written = [folder.MODEL, folder.CONFIG, folder.HISTORY, folder.EDGE_PROBABILITIES,
               f"{folder.CHECKPOINT}/ (resume)", f"{folder.LOGS}/ (TensorBoard)"]  # fmt: skip
    if _SAMPLE_FIGURES.value:
        written += _sample_figures(config, result.model, folder)
    print(f"Files in {folder.path}: {', '.join(written)}")


def _sample_figures(config, model, folder: RunFolder) -> list[str]:
    """Writes samples.png and reconstructions.png (16 test images, as evaluated) to the
    run folder and returns their names; for examples that are not images, says so."""
    from tf_graphvae import scoring
    from tf_graphvae.figures.samples import is_image_shape, plot_model_pictures

    names = [RunFolder.SAMPLES, RunFolder.RECONSTRUCTIONS]
    if not is_image_shape(model.event_shape):
        print(f"No {' or '.join(names)}: examples {list(model.event_shape)} are not images.")
        return []
    images = scoring.test_images(config, 16, model.likelihood_name)
    plot_model_pictures(model, images, *(folder / name for name in names), seed=config.seed)
    return names


def _native_log_to(path: Path) -> None:
    """Sends what TensorFlow's C++ side writes to stderr (a worker's death is ~6 lines of
    gRPC and collective errors) to `path`; Python's own stderr, and so this command's
    messages, stay on the terminal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    sys.stderr = os.fdopen(os.dup(2), "w", buffering=1)
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 2)
    os.close(log)


def _model_dir(config) -> str:
    return _MODEL_DIR.value or f"runs/{dataset_label(config.dataset)}-{config.model.structure}"


@functools.cache
def _config():
    """The run's settings from the flags, made once: the checks before TensorFlow and
    `main` read the same object."""
    return tf_flags.train_config()


def _before_tensorflow() -> None:
    """A missing data folder, a run folder in use or holding another run: said at once."""
    config = _config()
    check_data_dir(config.data_dir)
    folder = RunFolder(_model_dir(config))
    holder = folder.lock_holder()
    if holder is not None:
        raise ValueError(
            f"{folder.path} is in use by a running training (pid {holder}); wait for it to "
            "end or use another --model_dir."
        )
    if _STRATEGY.value != "multi_worker":  # a worker checks its own folder later
        folder.check_resumable(config)


def run() -> None:
    run_main(main, _before_tensorflow)


if __name__ == "__main__":
    run()
