"""Tables of the structure-learning study (docs/results.md, "Which dependencies do the data
support?"), from run records.

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

`choose_priced`: the same rule among priced options evaluated by `tfgvae-evaluate` on a
validation split (`LABEL=GLOB` of `...-seed<k>.json`, from the lowest price up):

    python scripts/structure_study.py choose_priced \
        "none=results/val_choice/omniglot_v3-learned-seed*.json" \
        "mdl=results/val_choice/omniglot_v3_mdl-learned-seed*.json"

`retrained`: the retrained-evidence table (`trainers/paper/structure_evidence.py`): each
learned seed's MAP graph, the run that trained it from scratch as a fixed structure, and
its LL paired with FC-VAE, the chain and the VAE of `--baseline` (default: `--runs`).

    python scripts/structure_study.py retrained --runs=results/mnist_v3_mdl \
        --baseline=results/mnist_v3
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path

import numpy as np

from tf_graphvae.config import RunFolder, TrainConfig, map_graph_edges


def _dropped(run: RunFolder) -> list[list[int]]:
    """The edges `[i, j]` whose kept `mu <= 0.5` (the MAP graph leaves them out)."""
    return map_graph_edges(run.kept_edge_probabilities())[1]


def _mean_sem(x) -> tuple[float, float]:
    x = np.asarray(x, np.float64)
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x)))


def _seeds(folder: str) -> list[tuple[dict, RunFolder]]:
    runs = RunFolder.of_rows(folder, "learned")
    return [(run.read_json(RunFolder.EVAL), run) for run in runs if run.eval_file.exists()]


def _paired_over_seeds(records: list[dict], best: list[dict]) -> tuple[float, float, str]:
    """The mean of the per-seed paired LL differences and its standard error over seeds;
    with one seed, the standard error over images (too small: it ignores how the choice
    varies from seed to seed). `table1.paired_difference` computes both."""
    from tf_graphvae.trainers.paper.table1 import paired_difference

    diff = paired_difference(records, best)
    return diff["mean"], diff["sem"], "seeds" if diff["sem_over"] == "seeds" else "images"


def choose(folders: list[str]) -> str:
    rows = []
    for folder in folders:
        seeds = _seeds(folder)
        cost = float(TrainConfig.from_json(seeds[0][0]["config"]).model.edge_cost)
        rows.append((cost, seeds))
    rows.sort(key=lambda r: r[0])
    common = set.intersection(*({r["config"]["seed"] for r, _ in seeds} for _, seeds in rows))
    # Each record stays with its own run folder, so the edges counted are that run's.
    kept = [(c, [s for s in seeds if s[0]["config"]["seed"] in common]) for c, seeds in rows]
    rows = [(c, [r for r, _ in seeds], [run for _, run in seeds]) for c, seeds in kept]
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
            for d in (_dropped(run) for run in runs)
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
    for run in RunFolder.of_rows(runs, row):
        seed = run.seed
        base_run = RunFolder.of_row(baseline, baseline_row, seed)
        if not run.eval_file.exists() or not base_run.eval_file.exists():
            continue
        record, base = run.read_json(RunFolder.EVAL), base_run.read_json(RunFolder.EVAL)
        diff, sem = _mean_sem(np.asarray(record["ll_per_image"]) - base["ll_per_image"])
        diffs.append(diff)
        dropped = _dropped(run)
        for edge in dropped:
            drops[tuple(edge)] = drops.get(tuple(edge), 0) + 1
        lines.append(
            f"| {seed} | {record['metrics']['ll']:.2f} ± {record['metrics']['ll_sem']:.2f} "
            f"| {base['metrics']['ll']:.2f} ± {base['metrics']['ll_sem']:.2f} "
            f"| {diff:+.2f} ± {sem:.2f} "
            f"| {len(dropped)}: {', '.join(f'z{i}→z{j}' for i, j in dropped) or '-'} |"
        )
    if len(diffs) > 1:
        from tf_graphvae.trainers.paper.table1 import t_interval

        mean, sem = _mean_sem(diffs)
        low, high = t_interval(mean, sem, len(diffs) - 1)
        lines += ["", f"Mean of the {len(diffs)} per-seed differences: {mean:+.2f} ± {sem:.2f} "
                  f"(standard error over seeds; 95 % Student-t interval "
                  f"[{low:+.2f}, {high:+.2f}])."]  # fmt: skip
    stable = ", ".join(f"z{i}→z{j} in {k}" for (i, j), k in sorted(drops.items())) or "none"
    lines += ["", f"Edges dropped, in how many of the {len(diffs)} seeds: {stable}."]
    return "\n".join(lines) + "\n"


def choose_priced(options: list[str]) -> str:
    """The one-standard-error choice among priced options, each `LABEL=GLOB` of
    `tfgvae-evaluate` JSON files (one per seed, named `...-seed<k>.json`) on a validation
    split, listed from the lowest price to the highest: the highest price whose mean LL is
    within one standard error over seeds of the best option's."""
    rows = [_priced_option(option) for option in options]
    seeds = sorted(set.intersection(*(set(by_seed) for _, by_seed in rows)))
    if len(seeds) < 2:
        raise ValueError(f"The options share {len(seeds)} seed(s); the rule needs 2 or more.")
    ll = {label: np.array([by_seed[k]["ll"] for k in seeds]) for label, by_seed in rows}
    best = max(ll, key=lambda label: ll[label].mean())
    lines = ["| option | seeds | validation LL | − the best (over seeds) | edges dropped |",
             "|---|---:|---|---|---|"]  # fmt: skip
    chosen = best
    for label, by_seed in rows:  # lowest price first: the last one within 1 SE is chosen
        diff, sem = _mean_sem(ll[label] - ll[best])
        if diff >= -sem:
            chosen = label
        dropped = ", ".join(str(_dropped_of(by_seed[k])) for k in seeds)
        lines.append(f"| {label} | {len(seeds)} | {ll[label].mean():.2f} | "
                     f"{diff:+.2f} ± {sem:.2f} | {dropped} |")  # fmt: skip
    note = (f"\nStandard errors over the {len(seeds)} seeds of the per-seed differences to the "
            "best option (the same validation images for every option); edges dropped per "
            "seed by the evaluated run's MAP graph.")  # fmt: skip
    return "\n".join(lines) + "\n" + note + f"\n\nchosen={chosen}\n"


def _priced_option(option: str) -> tuple[str, dict[int, dict]]:
    label, _, pattern = option.partition("=")
    files = sorted(glob.glob(pattern))
    if not label or not files:
        raise ValueError(f"{option!r}: expected LABEL=GLOB matching evaluation JSON files.")
    by_seed = {}
    for path in map(Path, files):
        record = json.loads(path.read_text())
        if "@val" not in record["test_split"]:
            raise ValueError(f"{path} was scored on {record['test_split']!r}, not a validation "
                             "split: a price is chosen on validation data.")  # fmt: skip
        by_seed[int(path.stem.rsplit("seed", 1)[1])] = record
    return label, by_seed


def _dropped_of(record: dict) -> int | str:
    """How many edges the evaluated run's MAP graph drops ('?' when its folder is absent)."""
    folder = Path(record.get("model_dir", ""))
    mu = RunFolder(folder).kept_edge_probabilities() if folder.is_dir() else None
    return "?" if mu is None else len(map_graph_edges(mu)[1])


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
    q = sub.add_parser("choose_priced")
    q.add_argument("options", nargs="+", help="LABEL=GLOB, from the lowest price up.")
    r = sub.add_parser("retrained")
    r.add_argument("--runs", required=True)
    r.add_argument("--baseline", default=None)
    args = parser.parse_args(argv)
    if args.command == "retrained":
        from tf_graphvae.trainers.paper.structure_evidence import (
            evidence_markdown,
            retrained_evidence,
        )

        print(evidence_markdown(retrained_evidence(args.runs, args.baseline)), end="")
    elif args.command == "choose_priced":
        print(choose_priced(args.options), end="")
    elif args.command == "choose":
        print(choose(args.folders), end="")
    else:
        print(paired(args.baseline, args.baseline_row, args.runs, args.row), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
