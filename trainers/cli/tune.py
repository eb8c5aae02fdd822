"""`tfgvae-tune`: Figure 3 as a KerasTuner search over the factorisations N x N' = M.

    tfgvae-tune --dataset=mnist --data_dir=... --latent_dim=50 --epochs=20 \
        --directory=results/tuning [--objective=val_ll] [--tuner=random --max_trials=4]

The search resumes from --directory when the command is run again.
"""

from __future__ import annotations

import json
from pathlib import Path

from absl import flags

from tf_graphvae import config as tgv_config
from tf_graphvae.trainers.cli import _latent_flags as latent_flags
from tf_graphvae.trainers.cli import _train_flags as tf_flags
from tf_graphvae.trainers.cli._common import run_main

# The search sets N and N', and scores every trial on its own validation split
# (--validation_percent of --train_split), for --epochs each: no early stopping.
_NOT_SEARCH_SETTINGS = ("validation_split", "early_stopping_patience", "early_stopping_min_delta")
tf_flags.define(exclude=tf_flags.FACTORISATION_FIELDS + _NOT_SEARCH_SETTINGS)

_DIRECTORY = flags.DEFINE_string(
    "directory", None, "Where the search (resumable) and its table and figure go."
)
_MAX_TRIALS = flags.DEFINE_integer(
    "max_trials",
    None,
    "Trials at most (default: the whole grid for --tuner=grid, else one per factorisation).",
    lower_bound=1,
)
_OBJECTIVE = flags.DEFINE_enum(
    "objective",
    "val_elbo",
    list(tgv_config.TUNING_OBJECTIVES),
    "Maximised on the validation split: the ELBO, or the importance-weighted LL after training.",
)
_VALIDATION = flags.DEFINE_integer(
    "validation_percent",
    10,
    "Trials are scored on a random this % of --train_split and train on the rest; "
    "0: scored on --test_split.",
    lower_bound=0,
    upper_bound=99,
)
_TUNER = flags.DEFINE_enum("tuner", "grid", list(tgv_config.TUNERS), "Search algorithm.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Start afresh instead of resuming.")
_TUNE_LR = flags.DEFINE_bool(
    "tune_learning_rate",
    False,
    f"Also search the learning rate in {tgv_config.DEFAULT_LEARNING_RATES}.",
)
_TUNE_FLOOR = flags.DEFINE_bool(
    "tune_temperature_floor",
    False,
    f"Also search the gate temperature floor in {tgv_config.DEFAULT_TEMPERATURE_FLOORS}.",
)
_LL_SAMPLES = flags.DEFINE_integer(
    "ll_samples",
    tgv_config.DEFAULT_LL_SAMPLES,
    "Importance samples K per image for --objective=val_ll.",
    lower_bound=1,
)
_LL_IMAGES = flags.DEFINE_integer(
    "ll_images", None, "--objective=val_ll on this many validation images.", lower_bound=1
)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise ValueError(f"Unexpected arguments: {' '.join(argv[1:])}")
    if not _DIRECTORY.value:
        raise ValueError("--directory is required.")
    whole = tf_flags.train_config()
    config = tgv_config.hold_out(whole, _VALIDATION.value)
    from tf_graphvae.trainers import tuning

    search = tgv_config.SearchConfig(
        latent_dim=latent_flags.LATENT_DIM.value,
        tuner=_TUNER.value,
        objective=_OBJECTIVE.value,
        max_trials=_MAX_TRIALS.value,
        min_nodes=latent_flags.MIN_NODES.value,
        max_nodes=latent_flags.MAX_NODES.value,
        tune_learning_rate=_TUNE_LR.value,
        tune_temperature_floor=_TUNE_FLOOR.value,
        num_samples=_LL_SAMPLES.value,
        eval_images=_LL_IMAGES.value,
    ).validate()  # a bad M or bound is refused before TensorFlow starts
    if not flags.FLAGS.verbose:
        import tensorflow as tf

        # Every trial builds a new model and so new tf.functions: TensorFlow's "retracing"
        # warning is expected here, not a fault to act on.
        tf.get_logger().setLevel("ERROR")
    tuning.tune(config, search, _DIRECTORY.value, _OVERWRITE.value, verbose=2)
    directory = Path(_DIRECTORY.value)
    print((directory / tuning.RESULTS_MD).read_text())
    best = json.loads((directory / tuning.RESULTS_JSON).read_text())["best"]
    print(f"The best trial, trained on the whole --train_split and scored on --test_split:\n"
          f"{tf_flags.command_line(_best_config(whole, best))}")  # fmt: skip


def _best_config(whole, best: dict):
    """The run `whole` with the best trial's factorisation and searched values."""
    changes = {"num_nodes": best["num_nodes"], "node_dim": best["node_dim"]}
    if best.get("learning_rate") is not None:
        changes["learning_rate"] = best["learning_rate"]
    if best.get("temperature_floor") is not None:
        changes["min_temperature"] = best["temperature_floor"]
    return whole.replace(**changes)


def run() -> None:
    run_main(main)


if __name__ == "__main__":
    run()
