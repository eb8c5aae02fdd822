"""`tfgvae-ablation`: the paper's Figure 3 — every factorisation N x N' = M of a latent size.

tfgvae-ablation --dataset=mnist --data_dir=... --latent_dim=50 --output_dir=results/ablation
"""

from __future__ import annotations

from pathlib import Path

from absl import flags

from tf_graphvae.cli import _train_flags as tf_flags
from tf_graphvae.cli._common import run_main
from tf_graphvae.trainers import comparison

_LATENT_DIM = flags.DEFINE_integer("latent_dim", 50, "Total latent size M = N * N'.", lower_bound=1)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where the table, figure and runs go.")
_NUM_SAMPLES = flags.DEFINE_integer(
    "num_importance_samples", 5000, "Importance samples K per test image.", lower_bound=1
)
_EVAL_IMAGES = flags.DEFINE_integer(
    "eval_images", None, "Evaluate the first this many test images (default all).", lower_bound=1
)
_SEEDS = flags.DEFINE_list("seeds", ["0"], "Seeds for every factorisation.")
flags.mark_flag_as_required("output_dir")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise ValueError(f"Unexpected arguments: {' '.join(argv[1:])}")
    comparison.ablation(
        tf_flags.train_config(),
        _LATENT_DIM.value,
        _OUTPUT_DIR.value,
        num_samples=_NUM_SAMPLES.value,
        eval_images=_EVAL_IMAGES.value,
        seeds=[int(s) for s in _SEEDS.value],
    )
    print((Path(_OUTPUT_DIR.value) / "figure3.md").read_text())


def run() -> None:
    run_main(main)


if __name__ == "__main__":
    run()
