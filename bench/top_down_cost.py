"""The training step's time against the number of nodes N at a fixed latent size M.

python bench/top_down_cost.py [--latent_dim=50] [--nodes=1,2,5,10,25,50] [--steps=40]
    [--repeats=2]

The learned structure gates N(N-1)/2 edges in a top-down pass that runs node after node;
the pass is a loop of one fixed body (`layers/top_down.py`), so its traced graph, and
XLA's compilation of it, should not grow with N. For each N, with N' = M // N: a default
`GraphVAE` (28 x 28 binary images, batch 128, XLA, 10 steps per execution), then

- `first_steps_s`: a first `fit` of `--steps` steps, tracing and compilation included;
- `ms_per_step`: the fastest of `--repeats` further `fit`s of exactly `--steps` steps each,
  per step, after compilation (`ms_per_step_runs`: every timed fit's);
- `posterior_ops`: the ops of the traced `GatedDAG.posterior`, its loop body included.

Every `fit` has the same number of steps: `GraphVAE.fit` (tf_graphvae/training_step.py)
drops its compiled step and retraces when the steps per epoch change, because the
schedules' epoch length is a constant of the compiled step; `--steps` must be a multiple of
the 10 steps per execution, so that no execution is a shorter one.

Writes `top_down_cost.json` and `.md` into `--output_dir` (default bench/results), with each
row's ratio to the N = 5 row (the first row when there is none).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import tf_graphvae as tgv

BATCH, STEPS_PER_EXECUTION = 128, 10


def posterior_ops(dag) -> int:
    """The ops of `dag.posterior` traced for a batch of 128, the bodies of its functions (a
    `while` loop's) included."""
    nodes = tf.TensorSpec([BATCH, dag.num_nodes, dag.node_dim], tf.float32)
    gates = tf.TensorSpec([BATCH, dag.num_nodes, dag.num_nodes], tf.float32)
    graph = (
        tf.function(lambda m, v, c: dag.posterior(m, v, c, tf.constant([0, 1])))
        .get_concrete_function(nodes, nodes, gates)
        .graph.as_graph_def()
    )
    return len(graph.node) + sum(len(f.node_def) for f in graph.library.function)


def timed_fit(model, x) -> float:
    start = time.perf_counter()
    model.fit(x, batch_size=BATCH, epochs=1, verbose=0)
    return time.perf_counter() - start


def measure(num_nodes: int, node_dim: int, steps: int, repeats: int) -> dict:
    """One row: the first fit (compilation included) and the warm step time of `num_nodes`."""
    x = (np.random.default_rng(0).random((BATCH * steps, 28, 28, 1)) > 0.5).astype(np.float32)
    model = tgv.GraphVAE(event_shape=(28, 28, 1), num_nodes=num_nodes, node_dim=node_dim,
                         structure="learned", seed=0)  # fmt: skip
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        jit_compile=True,
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    first = timed_fit(model, x)
    runs = [1000 * timed_fit(model, x) / steps for _ in range(repeats)]
    return {
        "num_nodes": num_nodes,
        "node_dim": node_dim,
        "first_steps_s": round(first, 2),
        "ms_per_step": round(min(runs), 2),
        "ms_per_step_runs": [round(r, 2) for r in runs],
        "posterior_ops": posterior_ops(model.dag),
    }


def table(rows: list[dict], steps: int) -> str:
    """The Markdown table: each row against the N = 5 row (else the first)."""
    base = next((r for r in rows if r["num_nodes"] == 5), rows[0])
    lines = [
        f"| N | N' | ms/step | vs N = {base['num_nodes']} | first {steps} steps incl. compile (s) "
        f"| vs N = {base['num_nodes']} | posterior ops |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['num_nodes']} | {r['node_dim']} | {r['ms_per_step']:.1f} "
            f"| {r['ms_per_step'] / base['ms_per_step']:.2f}x | {r['first_steps_s']:.1f} "
            f"| {r['first_steps_s'] / base['first_steps_s']:.2f}x | {r['posterior_ops']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latent_dim", type=int, default=50)
    parser.add_argument("--nodes", default="1,2,5,10,25,50")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--output_dir", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    if args.steps % STEPS_PER_EXECUTION:
        parser.error(f"--steps must be a multiple of {STEPS_PER_EXECUTION}.")
    rows = []
    for n in (int(v) for v in args.nodes.split(",")):
        rows.append(measure(n, args.latent_dim // n, args.steps, args.repeats))
        print(json.dumps(rows[-1]), flush=True)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "latent_dim": args.latent_dim, "batch_size": BATCH, "steps": args.steps,
        "repeats": args.repeats, "steps_per_execution": STEPS_PER_EXECUTION,
        "jit_compile": True, "structure": "learned", "cpu_count": os.cpu_count(),
        "machine": platform.machine(), "tensorflow": tf.__version__, "rows": rows,
    }  # fmt: skip
    (out / "top_down_cost.json").write_text(json.dumps(record, indent=1) + "\n")
    (out / "top_down_cost.md").write_text(table(rows, args.steps))


if __name__ == "__main__":
    main()
