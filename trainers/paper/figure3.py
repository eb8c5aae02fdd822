"""Figure 3's summary from an ablation folder's finished runs: one line per latent size M,
error bars from seeds, paired differences between neighbouring factorisations, and the
edges each learned run dropped.

Every finished run `runs/N<n>x<d>-seed<k>` (its `eval.json` exists) counts, whatever
command wrote it, so `tfgvae-ablation` run for M = 50 and then M = 20 into one folder gives
one figure with both lines.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tf_graphvae import figures
from tf_graphvae.config import RunFolder, TrainConfig, map_graph_edges
from tf_graphvae.config.files import write_json, write_text
from tf_graphvae.trainers.paper.table1 import mean_std, paired_difference


def finished_runs(output_dir: Path) -> dict[tuple[int, int], list[dict]]:
    """The `eval.json` records of the finished runs, by `(N, N')`, each with its
    `edges_dropped` (`mu <= 0.5` of the kept weights, `RunFolder.kept_edge_probabilities`;
    None without a gate history)."""
    runs: dict[tuple[int, int], list[dict]] = {}
    for path in sorted(Path(output_dir, "runs").glob("N*x*-seed*")):
        folder = RunFolder(path)
        if not folder.eval_file.exists():
            continue
        record = folder.read_json(folder.EVAL)
        model = TrainConfig.from_json(record["config"]).model
        record["edges_dropped"] = _edges_dropped(folder)
        runs.setdefault((model.num_nodes, model.node_dim), []).append(record)
    return runs


def _edges_dropped(folder: RunFolder) -> int | None:
    mu = folder.kept_edge_probabilities()
    return None if mu is None else len(map_graph_edges(mu)[1])


def summarise(runs: dict[tuple[int, int], list[dict]]) -> list[dict]:
    """One row per factorisation, by M then increasing `N'`: the LL over seeds and, from
    the second factorisation of an M on, the paired difference to the one before it."""
    rows: list[dict] = []
    for n, d in sorted(runs, key=lambda nd: (nd[0] * nd[1], nd[1])):
        records = sorted(runs[(n, d)], key=lambda r: r["config"]["seed"])
        lls = [r["metrics"]["ll"] for r in records]
        mean, std = mean_std(lls)
        row = {
            "latent_dim": n * d, "num_nodes": n, "node_dim": d, "ll": mean, "ll_std": std,
            "seeds": [r["config"]["seed"] for r in records], "ll_per_seed": lls,
            "epochs": [r.get("epochs_trained") for r in records],
            "edges_dropped": [r["edges_dropped"] for r in records],
            "num_edges": n * (n - 1) // 2,
        }  # fmt: skip
        previous = rows[-1] if rows and rows[-1]["latent_dim"] == n * d else None
        if previous is not None:
            before = runs[(previous["num_nodes"], previous["node_dim"])]
            row["vs_previous"] = paired_difference(records, before)
        rows.append(row)
    return rows


def markdown(rows: list[dict], caption: str) -> str:
    lines = [caption, "",
             "| M | N | N' | seeds | LL (nats) | edges dropped / possible, per seed | "
             "LL − previous N' (paired, 95 % interval) |",
             "|---:|---:|---:|---|---|---|---|"]  # fmt: skip
    for r in rows:
        ll = f"{r['ll']:.2f}" + (f" ± {r['ll_std']:.2f}" if len(r["seeds"]) > 1 else "")
        dropped = ", ".join("–" if e is None else str(e) for e in r["edges_dropped"])
        diff = r.get("vs_previous") or {}
        low, high = diff.get("ci95", (0.0, 0.0))
        versus = (
            f"{diff['mean']:+.2f} ± {diff['sem']:.2f} [{low:+.2f}, {high:+.2f}] "
            f"({diff['verdict']})" if diff else "—"
        )  # fmt: skip
        seeds = ", ".join(map(str, r["seeds"]))
        lines.append(f"| {r['latent_dim']} | {r['num_nodes']} | {r['node_dim']} | {seeds} | "
                     f"{ll} | {dropped} / {r['num_edges']} | {versus} |")  # fmt: skip
    note = ("LL: mean ± std over seeds. LL − previous N': this factorisation minus the one "
            "with the next smaller N' of the same M, paired by seed and test image, ± SE over "
            "seeds (over images for one seed), Student-t interval.")  # fmt: skip
    return "\n".join(lines) + "\n\n" + note + "\n"


def write(output_dir: str | Path, title: str, log: Callable[[str], None] = print) -> list[dict]:
    """`figure3.json`, `figure3.md` and `figure3.png` from the folder's finished runs."""
    output_dir = Path(output_dir)
    runs = finished_runs(output_dir)
    if not runs:
        raise ValueError(f"{output_dir} holds no finished run (runs/N<n>x<d>-seed<k>/eval.json).")
    rows = summarise(runs)
    first = next(iter(runs.values()))[0]
    config = TrainConfig.from_json(first["config"])
    caption = (
        f"{title}: {config.dataset} ({config.train_split} -> {config.test_split}), "
        f"{config.model.structure} structure, LL with K = {first['num_samples']} on "
        f"{first['metrics']['num_images']} test images."
    )
    write_json(output_dir / "figure3.json", rows)
    write_text(output_dir / "figure3.md", markdown(rows, caption))
    figures.plot_figure3(rows, output_dir / "figure3.png", title)
    log(f"Figure 3 from {sum(len(v) for v in runs.values())} runs: {output_dir / 'figure3.md'}")
    return rows
