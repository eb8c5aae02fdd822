"""`tfgvae-compare`: the paper's Table 1 and Figure 2 — four structures, one budget.

    tfgvae-compare --dataset=fashion_mnist --data_dir=/usr/share/datasets/fashion-mnist \
        --epochs=20 --num_importance_samples=5000 --output_dir=results/fashion_mnist
"""

from __future__ import annotations

from pathlib import Path

from absl import flags

from tf_graphvae.trainers.cli import _eval_flags as ev_flags
from tf_graphvae.trainers.cli import _experiment_flags as ex_flags
from tf_graphvae.trainers.cli import _train_flags as tf_flags
from tf_graphvae.trainers.cli._common import run_main
from tf_graphvae.trainers.paper.rows import DEFAULT_ROWS, ROWS

# Each row sets its structure, decoder input and (learned_map) edges: `--structures`.
tf_flags.define(exclude=("structure", "decode_from", "edges"))

_STRUCTURES = flags.DEFINE_list(
    "structures",
    list(DEFAULT_ROWS),
    f"Rows to compare, from {', '.join(ROWS)}: the four structures, "
    "`ladder_vae` (Sønderby's Ladder VAE: a chain of nodes 20-12-8-6-4 decoded from the "
    "bottom node) and `ladder` (the chain decoded from a bottom node of --node_dim).",
)
flags.register_validator(
    "structures",
    lambda rows: bool(rows) and all(r in ROWS for r in rows),
    message=f"--structures must name rows from {', '.join(ROWS)}.",
)
_ROW_SEEDS = flags.DEFINE_list(
    "row_seeds",
    [],
    "Per-row seeds overriding --seeds, as row:seed+seed, e.g. ladder:0 or ladder:0+1.",
)
_TIME_BUDGET = flags.DEFINE_float(
    "time_budget",
    None,
    "Equal wall-clock budget per run in seconds (stops before --epochs).",
    lower_bound=1,
)
_TABLES_ONLY = flags.DEFINE_bool(
    "tables_only",
    False,
    "Write table1.md/json and learning_curves.png from the runs in --output_dir that have "
    "finished, training nothing (for a comparison still running; --structures picks rows).",
)
flags.mark_flag_as_required("output_dir")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise ValueError(f"Unexpected arguments: {' '.join(argv[1:])}")
    config = tf_flags.train_config()
    row_seeds = _parse_row_seeds(_ROW_SEEDS.value)
    from tf_graphvae.trainers.paper import comparison

    if _TABLES_ONLY.value:
        comparison.tables_from_runs(ex_flags.OUTPUT_DIR.value, _STRUCTURES.value)
        print((Path(ex_flags.OUTPUT_DIR.value) / "table1.md").read_text())
        return

    comparison.compare(
        config,
        ex_flags.OUTPUT_DIR.value,
        seeds=ex_flags.seeds(),
        structures=_STRUCTURES.value,
        num_samples=ev_flags.NUM_SAMPLES.value,
        eval_images=ev_flags.EVAL_IMAGES.value,
        time_budget=_TIME_BUDGET.value,
        row_seeds=row_seeds,
    )
    print((Path(ex_flags.OUTPUT_DIR.value) / "table1.md").read_text())


def _parse_row_seeds(items: list[str]) -> dict[str, list[int]]:
    out = {}
    for item in items:
        name, _, seeds = item.partition(":")
        try:
            out[name] = [int(s) for s in seeds.split("+")]
        except ValueError:
            raise ValueError(f"--row_seeds entry {item!r} is not row:seed[+seed...].") from None
        if name not in ROWS:
            raise ValueError(f"--row_seeds: unknown row {name!r}; expected one of {tuple(ROWS)}.")
    return out


def run() -> None:
    run_main(main)


if __name__ == "__main__":
    run()
