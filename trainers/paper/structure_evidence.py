"""Retrained evidence for a learned structure: the graph it chose, trained again from scratch.

A knock-out value says what switching an edge off costs a model trained *with* it
(`tf_graphvae.knockout`). Whether the data support a graph is a question for models trained
with and without its edges. For every seed of a learned run, this table gives its MAP graph
(`mu > 0.5`), the run that trained that graph from scratch as a fixed structure, and that
run's test LL paired (same seed, same test images) with FC-VAE, the chain and the VAE of
the same seed, each with its Student-t interval over seeds (`table1.paired_difference`).

The retrained run is `learned_map-seed<k>` in the learned run's folder
(`tfgvae-compare --structures=...,learned,learned_map`) when it exists. When the MAP graph
has the gate mask of a row already trained with the same settings (the complete DAG is
`full`, the chain `chain`), that row's run of the same seed is the retrained graph: the
same gate mask, networks, data, budget and seed make the same model, so it is not trained a
second time. A graph with no edge is not the `independent` row: that row has no top-down
pass (a mean-field posterior under `Normal(0, I)`), while a gated model with every gate off
keeps it (each node's posterior merged with a learned prior), so it must be retrained as
`learned_map`. Otherwise the seed is listed as not retrained.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tf_graphvae.config import (
    EXECUTION_FIELDS,
    GATE_ONLY_FIELDS,
    RunFolder,
    TrainConfig,
    map_graph_edges,
    structure_mask,
)
from tf_graphvae.trainers.paper.rows import ROWS
from tf_graphvae.trainers.paper.table1 import paired_difference

# The rows the retrained graph is paired with, and their short names in the table.
COMPARED_ROWS = {"full": "FC-VAE", "chain": "chain", "independent": "VAE"}
# The rows whose runs may stand for a retrained MAP graph with their gate mask: those with
# the top-down pass of every gated model (`independent` has none; module docstring).
SAME_MODEL_ROWS = ("full", "chain")


def retrained_evidence(runs: str | Path, baseline: str | Path | None = None) -> dict:
    """The retrained-evidence table of the `learned` runs in `runs` (a `tfgvae-compare`
    folder), paired with the rows of `baseline` (default: the same folder).

    Returns:
        `{"seeds": [{seed, kept, dropped, retrained, ll}], "vs": {row: paired difference}}`;
        `vs` pairs the retrained runs with each of :data:`COMPARED_ROWS` found in `baseline`.
    """
    runs = Path(runs)
    baseline = Path(baseline) if baseline is not None else runs
    learned = [run for run in RunFolder.of_rows(runs, "learned") if run.eval_file.exists()]
    if not learned:
        raise ValueError(f"{runs} holds no finished learned run (runs/learned-seed<k>).")
    seeds, retrained = [], []
    for folder in learned:
        config = TrainConfig.from_json(folder.read_json(RunFolder.EVAL)["config"])
        kept, dropped = map_graph_edges(folder.kept_edge_probabilities())
        record, row = _retrained_run(runs, baseline, config, kept)
        entry = {"seed": config.seed, "kept": kept, "dropped": dropped,
                 "retrained": _label(row, config.seed),
                 "same_run_as": row if row in SAME_MODEL_ROWS else None}  # fmt: skip
        if record is not None:
            entry["ll"] = record["metrics"]["ll"]
            retrained.append(record)
        seeds.append(entry)
    vs = {}
    for row in COMPARED_ROWS:
        records = _row_records(baseline, row)
        if records and retrained:
            vs[row] = paired_difference(retrained, records)
    return {"runs": runs.name, "baseline": baseline.name, "seeds": seeds, "vs": vs}


def _row_records(folder: Path, row: str) -> list[dict]:
    runs = RunFolder.of_rows(folder, row)
    return [run.read_json(RunFolder.EVAL) for run in runs if run.eval_file.exists()]


def _retrained_run(
    runs: Path, baseline: Path, config: TrainConfig, kept: list[list[int]]
) -> tuple[dict | None, str | None]:
    """The evaluation record of the finished run that trained the MAP graph `kept` from
    scratch, and its row (`learned_map`, or one of :data:`SAME_MODEL_ROWS`); `(None, None)`
    when there is none."""
    own = RunFolder.of_row(runs, "learned_map", config.seed)
    if own.eval_file.exists():
        return own.read_json(RunFolder.EVAL), "learned_map"
    mask = structure_mask("fixed", config.model.num_nodes, kept)
    for row in SAME_MODEL_ROWS:
        candidate = RunFolder.of_row(baseline, row, config.seed)
        structure = ROWS[row][0]
        if not candidate.eval_file.exists() or not np.array_equal(
            structure_mask(structure, config.model.num_nodes), mask
        ):
            continue
        record = candidate.read_json(RunFolder.EVAL)
        theirs = TrainConfig.from_json(record["config"])
        if not config.differences(theirs, ignore=(*GATE_ONLY_FIELDS, *EXECUTION_FIELDS)):
            return record, row
    return None, None


def _label(row: str | None, seed: int) -> str:
    """How the retrained run of `seed` was found (`_retrained_run`'s row)."""
    if row is None:
        return "not retrained (run `tfgvae-compare` with the `learned_map` row)"
    if row == "learned_map":
        return f"`learned_map` (seed {seed})"
    return f"the `{row}` run (same gate mask and settings)"


def _edges(edges: list[list[int]]) -> str:
    return ", ".join(f"z{i}→z{j}" for i, j in edges) or "none"


def evidence_markdown(evidence: dict) -> str:
    """The table of :func:`retrained_evidence` as Markdown: one line per seed, then the
    paired differences over seeds."""
    rows = [row for row in COMPARED_ROWS if row in evidence["vs"]]
    head = ["seed", "edges kept", "edges dropped", "retrained as", "LL"]
    head += [f"− {COMPARED_ROWS[row]}" for row in rows]
    lines = ["| " + " | ".join(head) + " |", "|---:|---:|---|---|---|" + "---|" * len(rows)]
    for entry in evidence["seeds"]:
        cells = []
        for row in rows:
            d = evidence["vs"][row]
            i = d["seeds"].index(entry["seed"]) if entry["seed"] in d["seeds"] else None
            if entry["same_run_as"] == row:
                cells.append("0 (the same run)")
            elif i is None:
                cells.append("—")
            else:
                cells.append(f"{d['per_seed'][i]:+.2f} ± {d['per_seed_sem'][i]:.2f}")
        ll = f"{entry['ll']:.2f}" if "ll" in entry else "—"
        row_cells = [str(entry["seed"]), str(len(entry["kept"])), _edges(entry["dropped"]),
                     entry["retrained"], ll, *cells]  # fmt: skip
        lines.append("| " + " | ".join(row_cells) + " |")
    lines.append("")
    if not rows:
        lines.append(f"No finished FC-VAE, chain or VAE run to pair with in "
                     f"`{evidence['baseline']}`: give another folder as the baseline.")  # fmt: skip
    for row in rows:
        d = evidence["vs"][row]
        if all(entry["same_run_as"] == row for entry in evidence["seeds"]):
            lines.append(f"- Retrained MAP graph − {COMPARED_ROWS[row]}: every retrained run "
                         f"is the `{row}` run of its seed.")  # fmt: skip
            continue
        low, high = d["ci95"]
        lines.append(
            f"- Retrained MAP graph − {COMPARED_ROWS[row]}: {d['mean']:+.2f} ± {d['sem']:.2f} "
            f"(SE over {d['sem_over']}), 95 % Student-t interval [{low:+.2f}, {high:+.2f}], "
            f"{len(d['seeds'])} seed(s): {d['verdict']}."
        )
    lines += [
        "",
        "Per seed: the paired LL difference (same test images) ± its standard error over "
        "images; over seeds: the mean of the per-seed differences ± its standard error.",
    ]
    return "\n".join(lines) + "\n"
