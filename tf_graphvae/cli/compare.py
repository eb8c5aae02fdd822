"""`tfgvae-compare`: the paper's Table 1 and Figure 2 — four structures, one budget.

    tfgvae-compare --dataset=fashion_mnist --data_dir=/usr/share/datasets/fashion-mnist \
        --epochs=20 --num_importance_samples=5000 --output_dir=results/fashion_mnist
"""

from __future__ import annotations

from pathlib import Path

from absl import flags

from tf_graphvae.cli import _experiment_flags as ex_flags
from tf_graphvae.cli import _train_flags as tf_flags
from tf_graphvae.cli._common import run_main
from tf_graphvae.layers.gates import STRUCTURES
from tf_graphvae.trainers import comparison

_STRUCTURES = flags.DEFINE_list("structures", list(STRUCTURES), "Structures to compare.")
_TIME_BUDGET = flags.DEFINE_float(
    "time_budget",
    None,
    "Equal wall-clock budget per run in seconds (stops before --epochs).",
    lower_bound=1,
)
flags.mark_flag_as_required("output_dir")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise ValueError(f"Unexpected arguments: {' '.join(argv[1:])}")
    comparison.compare(
        tf_flags.train_config(),
        ex_flags.OUTPUT_DIR.value,
        seeds=ex_flags.seeds(),
        structures=_STRUCTURES.value,
        num_samples=ex_flags.NUM_SAMPLES.value,
        eval_images=ex_flags.EVAL_IMAGES.value,
        time_budget=_TIME_BUDGET.value,
    )
    print((Path(ex_flags.OUTPUT_DIR.value) / "table1.md").read_text())


def run() -> None:
    run_main(main)


if __name__ == "__main__":
    run()
