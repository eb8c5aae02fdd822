"""The training step's time against the number of nodes N at a fixed latent size M.

python bench/top_down_cost.py [--latent_dim=50] [--nodes=5,10,25,50] [--steps=60]

The learned structure's top-down pass runs node after node and gates N(N-1)/2 edges, so its
cost grows with N at a fixed M = N * N'. For each N: a default `GraphVAE` (28 x 28 binary
images, batch 128, XLA, 10 steps per execution), a first `fit` of 20 steps (compilation),
then `--steps` more, timed. Decides which factorisations an ablation can afford.
Writes `top_down_cost.json` and `.md` into `--output_dir` (default bench/results).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import keras
import numpy as np

import tf_graphvae as tgv


def step_ms(num_nodes: int, node_dim: int, steps: int) -> dict:
    x = (np.random.default_rng(0).random((128 * steps, 28, 28, 1)) > 0.5).astype(np.float32)
    model = tgv.GraphVAE(event_shape=(28, 28, 1), num_nodes=num_nodes, node_dim=node_dim,
                         structure="learned", seed=0)  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True, steps_per_execution=10)
    start = time.perf_counter()
    model.fit(x[: 128 * 20], batch_size=128, epochs=1, verbose=0)
    first = time.perf_counter() - start
    start = time.perf_counter()
    model.fit(x, batch_size=128, epochs=1, verbose=0)
    return {"num_nodes": num_nodes, "node_dim": node_dim, "first_20_steps_s": first,
            "ms_per_step": 1000 * (time.perf_counter() - start) / steps}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latent_dim", type=int, default=50)
    parser.add_argument("--nodes", default="5,10,25,50")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--output_dir", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    rows = []
    for n in (int(v) for v in args.nodes.split(",")):
        rows.append(step_ms(n, args.latent_dim // n, args.steps))
        print(json.dumps(rows[-1]), flush=True)
    out = Path(args.output_dir)
    (out / "top_down_cost.json").write_text(json.dumps(rows, indent=1) + "\n")
    base = rows[0]["ms_per_step"]
    lines = ["| N | N' | ms/step | vs first row | first 20 steps incl. compile (s) |",
             "|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['num_nodes']} | {r['node_dim']} | {r['ms_per_step']:.1f} | "
                     f"{r['ms_per_step'] / base:.1f}x | {r['first_20_steps_s']:.1f} |")  # fmt: skip
    (out / "top_down_cost.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
