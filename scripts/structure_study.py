"""Tables of the structure-learning study (README "Structure learning"), from run records.

    python scripts/structure_study.py choose results/mnist_structure/cost_*   > choice.md
    python scripts/structure_study.py paired --baseline=results/mnist --baseline_row=full \
        --runs=results/mnist_final --row=learned

`choose`: each folder is a `tfgvae-compare` output of the learned structure with one
`--edge_cost` (validation split, the same seeds in every folder). The chosen cost is the
largest whose validation LL is within one standard error of the best cost's, where the
standard error is that of the mean over seeds of the per-seed paired differences (same
seed, same images): the one-standard-error rule, which prefers the sparser structure when
the data cannot tell them apart. The uncertainty that matters is how the difference
varies from one training run to another; the standard error over images of one seed
(0.006-0.05 nats on MNIST) is several times smaller than that (seed-to-seed SD ~0.08), and
made the rule pick smaller costs. With one seed it falls back to images and says so.
Prints a Markdown table and, on the last line, `edge_cost=<value>`.

`paired`: the per-seed LL differences of `--row` runs to `--baseline_row` runs of
another output folder (same seeds, same test images), and which edges each seed's MAP
graph drops.

`retrained`: the retrained-evidence table (`trainers/structure_evidence.py`): each
learned seed's MAP graph, the run that trained it from scratch as a fixed structure, and
its LL paired with FC-VAE, the chain and the VAE of `--baseline` (default: `--runs`).

    python scripts/structure_study.py retrained --runs=results/mnist_v3_mdl \
        --baseline=results/mnist_v3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from tf_graphvae.config import RunFolder, TrainConfig, map_graph_edges


def _eval(run_dir: Path) -> dict:
    return RunFolder(run_dir).read_json(RunFolder.EVAL)


def _dropped(record: dict, run_dir: Path) -> list[list[int]]:
    """The edges `[i, j]` whose final `mu <= 0.5` (the MAP graph leaves them out)."""
    return map_graph_edges(RunFolder(run_dir).final_edge_probabilities())[1]


def _mean_sem(x) -> tuple[float, float]:
    x = np.asarray(x, np.float64)
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x)))


def _seeds(folder: str) -> list[tuple[dict, Path]]:
    runs = sorted((Path(folder) / "runs").glob("learned-seed*"))
    return [(_eval(run), run) for run in runs if RunFolder(run).eval_file.exists()]


def _paired_over_seeds(records: list[dict], best: list[dict]) -> tuple[float, float, str]:
    """The mean of the per-seed paired LL differences and its standard error over seeds;
    with one seed, the standard error over images (too small: it ignores how the choice
    varies from seed to seed). `table1.paired_difference` computes both."""
    from tf_graphvae.trainers.table1 import paired_difference

    diff = paired_difference(records, best)
    return diff["mean"], diff["sem"], "seeds" if diff["sem_over"] == "seeds" else "images"


def choose(folders: list[str]) -> str:
    rows = []
    for folder in folders:
        seeds = _seeds(folder)
        cost = float(TrainConfig.from_json(seeds[0][0]["config"]).model.edge_cost)
        rows.append((cost, [r for r, _ in seeds], [run for _, run in seeds]))
    rows.sort(key=lambda r: r[0])
    common = set.intersection(*({r["config"]["seed"] for r in recs} for _, recs, _ in rows))
    rows = [(c, [r for r in recs if r["config"]["seed"] in common],
             [d for d in dirs if int(d.name.rsplit("seed", 1)[1]) in common])
            for c, recs, dirs in rows]  # fmt: skip
    best = max(rows, key=lambda r: np.mean([x["metrics"]["ll"] for x in r[1]]))
    lines = ["| edge_cost | seeds | validation LL | to the best (paired) | KL | edges dropped, "
             "per seed |", "|---:|---:|---|---|---:|---|"]  # fmt: skip
    chosen, over = best[0], "seeds"
    for cost, records, runs in rows:
        diff, sem, over = _paired_over_seeds(records, best[1])
        if diff >= -sem and cost > chosen:
            chosen = cost
        dropped = "; ".join(
            f"{len(d)}: {', '.join(f'z{i}→z{j}' for i, j in d) or '-'}"
            for d in (_dropped(r, run) for r, run in zip(records, runs, strict=True))
        )
        ll = np.mean([r["metrics"]["ll"] for r in records])
        kl = np.mean([r["metrics"]["kl"] for r in records])
        lines.append(f"| {cost:g} | {len(records)} | {ll:.2f} | {diff:+.2f} ± {sem:.2f} "
                     f"| {kl:.2f} | {dropped} |")  # fmt: skip
    note = (
        f"\nStandard errors over {len(common)} seeds (the mean of the per-seed paired "
        "differences to the best cost)."
        if over == "seeds"
        else "\nOne seed: standard errors over images, which leave out how the choice varies "
        "from seed to seed (use 3 or more seeds)."
    )
    return "\n".join(lines) + "\n" + note + f"\n\nedge_cost={chosen:g}\n"


def paired(baseline: str, baseline_row: str, runs: str, row: str) -> str:
    lines = ["| seed | LL | baseline LL | difference (paired) | edges dropped |",
             "|---:|---|---|---|---|"]  # fmt: skip
    diffs, drops = [], {}
    for run_dir in sorted((Path(runs) / "runs").glob(f"{row}-seed*")):
        seed = run_dir.name.rsplit("seed", 1)[1]
        base_dir = RunFolder.of_row(baseline, baseline_row, int(seed)).path
        if not RunFolder(run_dir).eval_file.exists() or not RunFolder(base_dir).eval_file.exists():
            continue
        record, base = _eval(run_dir), _eval(base_dir)
        diff, sem = _mean_sem(np.asarray(record["ll_per_image"]) - base["ll_per_image"])
        diffs.append(diff)
        dropped = _dropped(record, run_dir)
        for edge in dropped:
            drops[tuple(edge)] = drops.get(tuple(edge), 0) + 1
        lines.append(
            f"| {seed} | {record['metrics']['ll']:.2f} ± {record['metrics']['ll_sem']:.2f} "
            f"| {base['metrics']['ll']:.2f} ± {base['metrics']['ll_sem']:.2f} "
            f"| {diff:+.2f} ± {sem:.2f} "
            f"| {len(dropped)}: {', '.join(f'z{i}→z{j}' for i, j in dropped) or '-'} |"
        )
    if len(diffs) > 1:
        mean, sem = _mean_sem(diffs)
        lines += ["", f"Mean of the {len(diffs)} per-seed differences: {mean:+.2f} ± {sem:.2f} "
                  f"(standard error over seeds)."]  # fmt: skip
    stable = ", ".join(f"z{i}→z{j} in {k}" for (i, j), k in sorted(drops.items())) or "none"
    lines += ["", f"Edges dropped, in how many of the {len(diffs)} seeds: {stable}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("choose")
    c.add_argument("folders", nargs="+")
    p = sub.add_parser("paired")
    p.add_argument("--baseline", required=True)
    p.add_argument("--baseline_row", default="full")
    p.add_argument("--runs", required=True)
    p.add_argument("--row", default="learned")
    r = sub.add_parser("retrained")
    r.add_argument("--runs", required=True)
    r.add_argument("--baseline", default=None)
    args = parser.parse_args(argv)
    if args.command == "retrained":
        from tf_graphvae.trainers.structure_evidence import evidence_markdown, retrained_evidence

        print(evidence_markdown(retrained_evidence(args.runs, args.baseline)), end="")
    elif args.command == "choose":
        print(choose(args.folders), end="")
    else:
        print(paired(args.baseline, args.baseline_row, args.runs, args.row), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
