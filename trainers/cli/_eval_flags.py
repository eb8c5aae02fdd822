"""Flags of every command that scores models with Table 1's importance-weighted LL
(evaluate, compare, ablation, tune)."""

from __future__ import annotations

from absl import flags

NUM_SAMPLES = flags.DEFINE_integer(
    "num_importance_samples", 5000, "Importance samples K per test image.", lower_bound=1
)
EVAL_IMAGES = flags.DEFINE_integer(
    "eval_images",
    None,
    "Evaluate a fixed random subset of this many test images (default all).",
    lower_bound=1,
)
