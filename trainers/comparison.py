"""The paper's experiments: Table 1 / Figure 2 (four structures) and Figure 3 (N x N' = M)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np

from tf_graphvae import data as tgv_data
from tf_graphvae import evaluate, figures
from tf_graphvae.io import write_json, write_text
from tf_graphvae.layers.gates import STRUCTURES
from tf_graphvae.trainers.experiment import MODEL_FILE, TrainConfig, train

# The rows of the paper's Table 1, in its order.
PAPER_ROWS = {"independent": "VAE", "chain": "Ladder VAE", "full": "FC VAE", "learned": "Graph VAE"}
EVAL_FILE = "eval.json"


def factorisations(latent_dim: int) -> list[tuple[int, int]]:
    """Every `(N, N')` with `N * N' = M`, by increasing `N'`.

    Raises:
        ValueError: `M < 1`.
    """
    if isinstance(latent_dim, bool) or int(latent_dim) != latent_dim or latent_dim < 1:
        raise ValueError(f"The latent size M must be an integer >= 1, got {latent_dim!r}.")
    m = int(latent_dim)
    return [(m // d, d) for d in range(1, m + 1) if m % d == 0]


def load_test_images(config: TrainConfig, max_images: int | None = None) -> np.ndarray:
    """The test split as evaluated: binarised once with the run's seed for binary sets."""
    binary = config.likelihood == "bernoulli"
    images = tgv_data.load_numpy(config.dataset, config.test_split, config.data_dir)
    if binary:
        rng = np.random.default_rng(config.seed)
        images = (rng.random(images.shape) < images).astype(np.float32)
    return images[:max_images] if max_images else images


def run_and_evaluate(
    config: TrainConfig,
    run_dir: Path,
    num_samples: int,
    eval_images: int | None,
    time_budget: float | None = None,
    verbose: int | str = 2,
) -> dict:
    """Trains (or resumes) one run, evaluates its test LL/KL/ELBO; cached in `eval.json`."""
    eval_path = run_dir / EVAL_FILE
    if eval_path.exists():
        cached = json.loads(eval_path.read_text())
        if (
            cached.get("config") == dataclasses.asdict(config)
            and cached.get("num_samples") == num_samples
            and cached.get("eval_images") == eval_images
        ):
            return cached
    result = train(config, run_dir, verbose=verbose, time_budget=time_budget)
    test = load_test_images(config, eval_images)
    metrics = evaluate.table1_metrics(
        result.model, test, num_samples, seed=config.seed, jit_compile=config.jit_compile
    )
    record = {
        "config": dataclasses.asdict(config),
        "num_samples": num_samples,
        "eval_images": eval_images,
        "metrics": metrics,
        "edge_probabilities": result.edge_history[-1].tolist(),
        "epochs_trained": len(result.history.get("loss", [])),
        "train_seconds_last_session": result.train_seconds,
    }
    write_json(eval_path, record)
    return record


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    values = np.asarray(values, np.float64)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def summarise(records: dict[str, list[dict]]) -> dict[str, dict]:
    """Mean and standard deviation over seeds of LL, KL and ELBO per structure."""
    table = {}
    for structure, runs in records.items():
        row = {"seeds": [r["config"]["seed"] for r in runs], "unit": runs[0]["metrics"]["unit"]}
        for key in ("ll", "kl", "elbo"):
            row[key], row[f"{key}_std"] = _mean_std([r["metrics"][key] for r in runs])
            row[f"{key}_per_seed"] = [r["metrics"][key] for r in runs]
        table[structure] = row
    return table


def table1_markdown(table: dict[str, dict], caption: str) -> str:
    """The layout of the paper's Table 1: one row per model, LL / KL / ELBO."""
    n_seeds = max(len(row["seeds"]) for row in table.values())

    def cell(row, key):
        if n_seeds > 1:
            return f"{row[key]:.2f} ± {row[f'{key}_std']:.2f}"
        return f"{row[key]:.2f}"

    unit = next(iter(table.values()))["unit"]
    lines = [
        f"| Method | LL ({unit}) | KL | ELBO |",
        "|---|---|---|---|",
    ]
    for structure in STRUCTURES:
        if structure in table:
            row = table[structure]
            name = f"{PAPER_ROWS[structure]} (`{structure}`)"
            lines.append(
                f"| {name} | {cell(row, 'll')} | {cell(row, 'kl')} | {cell(row, 'elbo')} |"
            )
    return caption + "\n\n" + "\n".join(lines) + "\n"


def edge_survival(final_mus: Sequence[np.ndarray]) -> np.ndarray:
    """Fraction of runs in which each edge survived (`mu > 0.5` at the end), `[N, N]`."""
    return np.mean([np.asarray(mu) > 0.5 for mu in final_mus], axis=0).astype(np.float32)


def compare(
    base: TrainConfig,
    output_dir: str | Path,
    seeds: Sequence[int] = (0,),
    structures: Sequence[str] = STRUCTURES,
    num_samples: int = evaluate.DEFAULT_NUM_SAMPLES,
    eval_images: int | None = None,
    time_budget: float | None = None,
    verbose: int | str = 2,
    log: Callable[[str], None] = print,
) -> dict[str, dict]:
    """Trains and evaluates every structure with the same networks, budget and seeds.

    Writes into `output_dir`: `table1.md`, `table1.json`, `figure2.png` (gate
    trajectories of the learned structure and a sampled DAG; one per seed as
    `figure2_seed<k>.png`), `edge_stability.png/json` and the final MAP structure of
    every learned run as JSON and DOT; each run lives in `runs/<structure>-seed<k>` and
    resumes from its last checkpoint when the command is run again.
    """
    base.validate()
    output_dir = Path(output_dir)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("At least one seed is needed.")
    for structure in structures:
        if structure not in STRUCTURES:
            raise ValueError(f"Unknown structure {structure!r}; expected one of {STRUCTURES}.")
    # Fail on missing data before any training starts.
    tgv_data.load_numpy(base.dataset, base.train_split, base.data_dir)
    load_test_images(base, 1)

    records: dict[str, list[dict]] = {s: [] for s in structures}
    for seed in seeds:
        for structure in structures:
            config = dataclasses.replace(base, structure=structure, seed=seed)
            run_dir = output_dir / "runs" / f"{structure}-seed{seed}"
            log(f"== {structure} (seed {seed}) -> {run_dir}")
            record = run_and_evaluate(
                config, run_dir, num_samples, eval_images, time_budget, verbose
            )
            records[structure].append(record)
            m = record["metrics"]
            log(f"   LL {m['ll']:.2f}  KL {m['kl']:.2f}  ELBO {m['elbo']:.2f} {m['unit']}")

    table = summarise(records)
    n_images = records[structures[0]][0]["metrics"]["num_images"]
    caption = (
        f"{base.dataset} ({base.train_split} -> {base.test_split}, first {n_images} test images), "
        f"N = {base.num_nodes}, N' = {base.node_dim}, {base.epochs} epochs"
        + (f" or {time_budget:g} s" if time_budget else "")
        + f", K = {num_samples}, seeds {seeds}"
        + (" (mean ± std over seeds)" if len(seeds) > 1 else "")
        + "."
    )
    write_json(output_dir / "table1.json", table)
    write_text(output_dir / "table1.md", table1_markdown(table, caption))
    if "learned" in structures:
        _learned_figures(output_dir, records["learned"], base)
    return table


def _learned_figures(output_dir: Path, runs: list[dict], base: TrainConfig) -> None:
    final_mus = []
    for k, record in enumerate(runs):
        seed = record["config"]["seed"]
        run_dir = output_dir / "runs" / f"learned-seed{seed}"
        history = json.loads((run_dir / "edge_probabilities.json").read_text())
        trajectory = [np.asarray(mu) for mu in history["edge_probabilities"]]
        model = keras.saving.load_model(run_dir / MODEL_FILE)
        sampled = model.gates(np.int32(1), training=False, seed=np.array([seed, 7], np.int32))
        sampled = np.asarray(sampled)[0]
        title = f"{base.dataset}, learned structure, seed {seed}"
        figures.plot_figure2(trajectory, sampled, output_dir / f"figure2_seed{seed}.png", title)
        if k == 0:
            figures.plot_figure2(trajectory, sampled, output_dir / "figure2.png", title)
        mu = trajectory[-1]
        final_mus.append(mu)
        map_graph = (mu > 0.5).astype(np.float32)
        figures.structure_to_dot(map_graph, output_dir / f"structure_seed{seed}.dot", mu)
        write_json(
            output_dir / f"structure_seed{seed}.json", figures.structure_to_json(map_graph, mu)
        )
    survival = edge_survival(final_mus)
    write_json(
        output_dir / "edge_stability.json", {"runs": len(final_mus), "survival": survival.tolist()}
    )
    figures.plot_edge_stability(
        survival,
        output_dir / "edge_stability.png",
        f"{base.dataset}: fraction of {len(final_mus)} seeds in which each edge survives",
    )


def ablation(
    base: TrainConfig,
    latent_dim: int,
    output_dir: str | Path,
    num_samples: int = evaluate.DEFAULT_NUM_SAMPLES,
    eval_images: int | None = None,
    seeds: Sequence[int] = (0,),
    verbose: int | str = 2,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Figure 3: the learned structure at every factorisation `N x N' = M`.

    Writes `figure3.png`, `figure3.md` and `figure3.json` into `output_dir`.
    """
    pairs = factorisations(latent_dim)
    base.validate()
    output_dir = Path(output_dir)
    tgv_data.load_numpy(base.dataset, base.train_split, base.data_dir)
    results = []
    for n, d in pairs:
        lls = []
        for seed in seeds:
            config = dataclasses.replace(base, num_nodes=n, node_dim=d, seed=int(seed))
            run_dir = output_dir / "runs" / f"N{n}x{d}-seed{seed}"
            log(f"== N = {n}, N' = {d} (seed {seed}) -> {run_dir}")
            record = run_and_evaluate(config, run_dir, num_samples, eval_images, None, verbose)
            lls.append(record["metrics"]["ll"])
            log(f"   LL {record['metrics']['ll']:.2f}")
        mean, std = _mean_std(lls)
        results.append(
            {
                "latent_dim": int(latent_dim),
                "num_nodes": n,
                "node_dim": d,
                "ll": mean,
                "ll_std": std,
                "ll_per_seed": lls,
            }
        )
    write_json(output_dir / "figure3.json", results)
    lines = [f"| N | N' | LL (M = {latent_dim}) |", "|---|---|---|"]
    lines += [
        f"| {r['num_nodes']} | {r['node_dim']} | {r['ll']:.2f}"
        + (f" ± {r['ll_std']:.2f}" if len(seeds) > 1 else "")
        + " |"
        for r in results
    ]
    write_text(output_dir / "figure3.md", "\n".join(lines) + "\n")
    figures.plot_figure3(
        results, output_dir / "figure3.png", f"{base.dataset}: factorisations of M = {latent_dim}"
    )
    return results
