"""The factorisations the factorisation commands (ablation, tune) try: M and bounds on N."""

from __future__ import annotations

from absl import flags

LATENT_DIM = flags.DEFINE_integer(
    "latent_dim", 50, "Total latent size M = N * N' (ablation and tuning).", lower_bound=1
)
MIN_NODES = flags.DEFINE_integer(
    "min_nodes", None, "Only factorisations with N >= this.", lower_bound=1
)
MAX_NODES = flags.DEFINE_integer(
    "max_nodes",
    None,
    "Only factorisations with N <= this (the top-down pass costs about N^2: bench).",
    lower_bound=1,
)
