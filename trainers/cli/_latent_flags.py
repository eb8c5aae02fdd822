"""The total latent size searched over by the factorisation commands (ablation, tune)."""

from __future__ import annotations

from absl import flags

LATENT_DIM = flags.DEFINE_integer(
    "latent_dim", 50, "Total latent size M = N * N' (ablation and tuning).", lower_bound=1
)
