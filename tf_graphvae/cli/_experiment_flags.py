"""Flags of the commands that train several runs and evaluate them (compare, ablation, tune)."""

from __future__ import annotations

from absl import flags

OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where tables, figures and runs go.")
NUM_SAMPLES = flags.DEFINE_integer(
    "num_importance_samples", 5000, "Importance samples K per test image.", lower_bound=1
)
EVAL_IMAGES = flags.DEFINE_integer(
    "eval_images",
    None,
    "Evaluate a fixed random subset of this many test images (default all).",
    lower_bound=1,
)
SEEDS = flags.DEFINE_list("seeds", ["0"], "Seeds; every configuration is trained with each.")
LATENT_DIM = flags.DEFINE_integer(
    "latent_dim", 50, "Total latent size M = N * N' (ablation and tuning).", lower_bound=1
)


def seeds() -> list[int]:
    """`--seeds` as integers, or a ValueError naming the flag."""
    try:
        return [int(s) for s in SEEDS.value]
    except ValueError:
        raise ValueError(f"--seeds must be integers, got {SEEDS.value}") from None
