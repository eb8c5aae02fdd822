"""Table 1's statistics: rows summarised over seeds, paired differences to FC-VAE
(same seed, same test images) and the table as markdown."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from tf_graphvae import evaluate

ROW_LABELS = {
    "independent": "VAE",
    "chain": "chain prior, decoder on all nodes",
    "ladder": "chain, decoder on a z_0 of the run's node size",
    "ladder_vae": "Ladder VAE (nodes 20-12-8-6-4, decoder on z_0)",
    "full": "FC-VAE",
    "learned": "Graph VAE",
    "learned_map": "Graph VAE's MAP graph, retrained as a fixed structure",
}
BASELINE_ROW = "full"  # paired differences are taken to FC-VAE


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    values = np.asarray(values, np.float64)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def t_interval(mean: float, sem: float, dof: int) -> tuple[float, float]:
    """The 95 % Student-t interval `mean ± t(0.975, dof) * sem`."""
    half = float(stats.t.ppf(0.975, dof)) * sem
    return mean - half, mean + half


def paired_difference(
    runs: Sequence[dict], baseline: Sequence[dict], key: str = "ll_per_image"
) -> dict:
    """LL of `runs` minus that of `baseline`, paired by seed and by test image.

    Per seed, the mean over images of the per-image difference and its standard error
    over images; across seeds, the mean of the per-seed differences and its standard
    error over seeds (over images when there is one seed), with its 95 % Student-t
    interval (n - 1 degrees of freedom for n seeds: with 3 seeds the interval is 4.30
    standard errors wide on each side, not 2). `better` / `worse`: the interval excludes 0.
    """
    by_seed = {r["config"]["seed"]: np.asarray(r["ll_per_image"], np.float64) for r in baseline}
    per_seed, per_seed_sem, seeds = [], [], []
    for run in runs:
        seed = run["config"]["seed"]
        if seed not in by_seed or key not in run:
            continue
        diff = np.asarray(run[key], np.float64) - by_seed[seed]
        mean, sem = evaluate.mean_sem(diff)
        per_seed.append(mean)
        per_seed_sem.append(sem)
        seeds.append(seed)
    if not per_seed:
        return {}
    if len(per_seed) > 1:
        (mean, sem), dof = evaluate.mean_sem(per_seed), len(per_seed) - 1
    else:
        (mean, sem), dof = (per_seed[0], per_seed_sem[0]), len(runs[0][key]) - 1
    low, high = t_interval(mean, sem, dof)
    verdict = "better" if low > 0 else "worse" if high < 0 else "interval includes 0"
    return {
        "mean": mean, "sem": sem, "ci95": [low, high], "dof": dof, "seeds": seeds,
        "per_seed": per_seed, "per_seed_sem": per_seed_sem, "verdict": verdict,
        "sem_over": "seeds" if len(per_seed) > 1 else "test images",
    }  # fmt: skip


def _row_summary(runs: list[dict], metrics_key: str) -> dict:
    row = {"seeds": [r["config"]["seed"] for r in runs], "unit": runs[0]["metrics"]["unit"]}
    row["epochs_per_seed"] = [r.get("epochs_trained") for r in runs]
    for key in ("ll", "kl", "elbo"):
        values = [r[metrics_key][key] for r in runs]
        row[key], row[f"{key}_std"] = mean_std(values)
        row[f"{key}_per_seed"] = values
        row[f"{key}_sem_per_seed"] = [r[metrics_key].get(f"{key}_sem", 0.0) for r in runs]
    row["ll_sem"] = float(np.sqrt(np.mean(np.square(row["ll_sem_per_seed"]))))
    if all("diagnostics" in r for r in runs):  # records before the diagnostics have none
        diagnostics = [r["diagnostics"] for r in runs]
        row["active_units_per_node"] = np.mean(
            [d["active_units_per_node"] for d in diagnostics], axis=0
        ).tolist()
        row["kl_per_node"] = np.mean([d["kl_per_node"] for d in diagnostics], axis=0).tolist()
    return row


def summarise(records: dict[str, list[dict]]) -> dict[str, dict]:
    """Per row: mean and std over seeds of LL, KL and ELBO, the per-seed standard errors
    over test images, and the paired difference of the LL to FC-VAE (`vs_full`). The
    learned structure also gets `learned (MAP)`: its MAP graph evaluated the same way."""
    table = {}
    baseline = records.get(BASELINE_ROW, [])
    for name, runs in records.items():
        if not runs:
            continue
        row = _row_summary(runs, "metrics")
        if name != BASELINE_ROW and baseline:
            row["vs_full"] = paired_difference(runs, baseline)
        table[name] = row
        if all("metrics_map" in r for r in runs):
            row_map = _row_summary(runs, "metrics_map")
            if baseline:
                row_map["vs_full"] = paired_difference(runs, baseline, key="ll_map_per_image")
            row_map["vs_mixture"] = paired_difference(runs, runs, key="ll_map_per_image")
            table[f"{name} (MAP)"] = row_map
    return table


def table1_markdown(table: dict[str, dict], caption: str) -> str:
    """The paper's Table 1 (LL / KL / ELBO per row), with standard errors and the paired
    LL difference to FC-VAE."""

    def cell(row, key):
        text = f"{row[key]:.2f}"
        if len(row["seeds"]) > 1:
            text += f" ± {row[f'{key}_std']:.2f}"
        return text

    def diff_cell(row):
        d = row.get("vs_full")
        if not d:
            return "—"
        per_seed = ", ".join(f"{v:+.2f}" for v in d["per_seed"])
        low, high = d.get("ci95", (float("nan"), float("nan")))
        return (
            f"{d['mean']:+.2f} ± {d['sem']:.2f}, 95 % [{low:+.2f}, {high:+.2f}] "
            f"({d['verdict']}; per seed {per_seed})"
        )

    def epochs_cell(row):
        return ", ".join("?" if e is None else str(e) for e in row.get("epochs_per_seed", []))

    def nodes_cell(row):
        if "active_units_per_node" not in row:
            return "—"
        units = ", ".join(f"{a:g}" for a in row["active_units_per_node"])
        kls = ", ".join(f"{k:.1f}" for k in row["kl_per_node"])
        return f"{units} (KL {kls})"

    unit = next(iter(table.values()))["unit"]
    lines = [
        f"| Model | seeds | epochs | LL ({unit}) | SE over images | KL | ELBO | "
        "LL − FC-VAE (paired) | active units per node, z0 first (KL per node) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in table.items():
        base = name.removesuffix(" (MAP)")
        label = ROW_LABELS.get(base, base) + (", MAP graph" if name.endswith("(MAP)") else "")
        lines.append(
            f"| {label} (`{name}`) | {len(row['seeds'])} | {epochs_cell(row)} | "
            f"{cell(row, 'll')} | {row['ll_sem']:.2f} | {cell(row, 'kl')} | "
            f"{cell(row, 'elbo')} | {diff_cell(row)} | {nodes_cell(row)} |"
        )
    notes = (
        "LL: mean over seeds ± std over seeds; SE over images: the root mean square of the "
        "per-seed standard errors of the mean over test images. LL − FC-VAE: the mean of the "
        "per-seed paired differences (same seed, same test images) ± its standard error "
        "(over seeds, or over images for one seed) and its 95 % Student-t interval (n - 1 "
        "degrees of freedom for n seeds); 'better' or 'worse' only when the interval "
        "excludes 0. Epochs: those each seed trained (early stopping, where used). Active "
        "units: mean over seeds of the units u of each node with Cov_x(E_q[z_u]) > 0.01 "
        "(Burda et al.), and its KL in nats, on the test images ('—': records made before "
        "they were kept)."
    )
    return caption + "\n\n" + "\n".join(lines) + "\n\n" + notes + "\n"


def edge_survival(final_mus: Sequence[np.ndarray]) -> np.ndarray:
    """Fraction of runs in which each edge survived (`mu > 0.5` at the end), `[N, N]`."""
    return np.mean([np.asarray(mu) > 0.5 for mu in final_mus], axis=0).astype(np.float32)
