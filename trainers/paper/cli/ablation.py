"""`tfgvae-ablation`: the paper's Figure 3 — every factorisation N x N' = M of a latent size.

tfgvae-ablation --dataset=mnist --data_dir=... --latent_dim=50 --output_dir=results/ablation
"""

from __future__ import annotations

from pathlib import Path

from absl import flags

from tf_graphvae.trainers.cli import _eval_flags as ev_flags
from tf_graphvae.trainers.cli import _experiment_flags as ex_flags
from tf_graphvae.trainers.cli import _latent_flags as latent_flags
from tf_graphvae.trainers.cli import _train_flags as tf_flags
from tf_graphvae.trainers.cli._common import run_main

tf_flags.define(exclude=tf_flags.FACTORISATION_FIELDS)  # every N x N' = --latent_dim

_TABLES_ONLY = flags.DEFINE_bool(
    "tables_only",
    False,
    "Only write figure3.png/.md/.json from the runs of --output_dir that have finished "
    "(every M among them), training and evaluating nothing.",
)
flags.mark_flag_as_required("output_dir")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise ValueError(f"Unexpected arguments: {' '.join(argv[1:])}")
    if _TABLES_ONLY.value:
        from tf_graphvae.trainers.paper import figure3

        figure3.write(ex_flags.OUTPUT_DIR.value, "factorisations N x N' = M")
        print((Path(ex_flags.OUTPUT_DIR.value) / "figure3.md").read_text())
        return
    config = tf_flags.train_config()
    from tf_graphvae.trainers.paper import comparison

    comparison.ablation(
        config,
        latent_flags.LATENT_DIM.value,
        ex_flags.OUTPUT_DIR.value,
        num_samples=ev_flags.NUM_SAMPLES.value,
        eval_images=ev_flags.EVAL_IMAGES.value,
        seeds=ex_flags.seeds(),
        min_nodes=latent_flags.MIN_NODES.value,
        max_nodes=latent_flags.MAX_NODES.value,
    )
    print((Path(ex_flags.OUTPUT_DIR.value) / "figure3.md").read_text())


def run() -> None:
    run_main(main)


if __name__ == "__main__":
    run()
