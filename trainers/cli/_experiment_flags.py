"""Flags of the commands that train several runs into one folder (compare, ablation)."""

from __future__ import annotations

from absl import flags

OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where tables, figures and runs go.")
SEEDS = flags.DEFINE_list("seeds", ["0"], "Seeds; every configuration is trained with each.")


def seeds() -> list[int]:
    """`--seeds` as integers, or a ValueError naming the flag."""
    try:
        return [int(s) for s in SEEDS.value]
    except ValueError:
        raise ValueError(f"--seeds must be integers, got {SEEDS.value}") from None
