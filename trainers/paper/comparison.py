"""The paper's experiments: Table 1 / Figure 2 (four structures) and Figure 3 (N x N' = M)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np

from tf_graphvae import data as tgv_data
from tf_graphvae import evaluate, figures, scoring
from tf_graphvae.config import (
    EXECUTION_FIELDS,
    RunFolder,
    TrainConfig,
    factorisations,
    map_graph_edges,
)
from tf_graphvae.config.files import write_json, write_text
from tf_graphvae.trainers.experiment import train
from tf_graphvae.trainers.paper import figure3
from tf_graphvae.trainers.paper.rows import DEFAULT_ROWS, ROWS
from tf_graphvae.trainers.paper.structure_evidence import evidence_markdown, retrained_evidence
from tf_graphvae.trainers.paper.table1 import (
    ROW_LABELS,
    edge_survival,
    summarise,
    table1_markdown,
)


def _same_run(config: TrainConfig, record: dict) -> bool:
    """Whether a run record's configuration is `config`, but where the data sit and whether
    XLA compiled (they do not change a finished evaluation); False if it is unreadable."""
    try:
        saved = TrainConfig.from_json(record.get("config", {}))
    except (ValueError, TypeError):
        return False
    return not saved.differences(config, EXECUTION_FIELDS)


def run_and_evaluate(
    config: TrainConfig,
    run_dir: Path,
    num_samples: int,
    eval_images: int | None,
    time_budget: float | None = None,
    verbose: int | str = 2,
) -> dict:
    """Trains (or resumes) one run, evaluates its test LL/KL/ELBO; cached in `eval.json`."""
    eval_path = RunFolder(run_dir).eval_file
    if eval_path.exists():
        cached = RunFolder(run_dir).read_json(RunFolder.EVAL)
        if (
            _same_run(config, cached)
            and cached.get("num_samples") == num_samples
            and cached.get("eval_images") == eval_images
            and "ll_per_image" in cached
        ):
            return cached
    result = train(config, run_dir, verbose=verbose, time_budget=time_budget)
    test = scoring.test_images(config, eval_images)
    scores = scoring.score(result.model, test, num_samples, config.seed, config.evaluation_xla)
    record = {
        "config": config.to_json(),
        "num_samples": num_samples,
        "eval_images": eval_images,
        **scores,
        "epochs_trained": len(result.history.get("loss", [])),
        "early_stopping": result.early_stopping,
        "train_seconds_last_session": result.train_seconds,
    }
    write_json(eval_path, record)
    return record


def compare(
    base: TrainConfig,
    output_dir: str | Path,
    seeds: Sequence[int] = (0,),
    structures: Sequence[str] = DEFAULT_ROWS,
    num_samples: int = evaluate.DEFAULT_NUM_SAMPLES,
    eval_images: int | None = None,
    time_budget: float | None = None,
    verbose: int | str = 2,
    log: Callable[[str], None] = print,
    row_seeds: dict[str, Sequence[int]] | None = None,
) -> dict[str, dict]:
    """Trains and evaluates every row with the same networks, budget and seeds.

    `structures` names rows of :data:`ROWS` (the four structures; `ladder_vae`, Sønderby's
    Ladder VAE; `ladder`, the chain decoded from a bottom node of the run's size;
    `learned_map`, each seed's learned MAP graph retrained from scratch as a fixed
    structure, after `learned`); `row_seeds` gives a row fewer (or other) seeds than
    `seeds`. Writes into `output_dir`: `table1.md`, `table1.json`,
    `figure2.png` (gate trajectories of the learned structure and a sampled DAG; one
    per seed as `figure2_seed<k>.png`), `edge_stability.png/json`, the final MAP
    structure of every learned run as JSON and DOT and `retrained_evidence.md/json`
    (`structure_evidence`); each run lives in
    `runs/<row>-seed<k>` and resumes from its last checkpoint when run again.
    """
    base.validate()
    output_dir = Path(output_dir)
    seeds = [int(s) for s in seeds]
    _check_rows(seeds, list(structures), row_seeds)
    seeds_of = {name: [int(s) for s in (row_seeds or {}).get(name, seeds)] for name in structures}
    # Fail on missing data before any training starts.
    tgv_data.load_numpy(base.dataset, base.train_split, base.data_dir)
    scoring.test_images(base, 1)

    records: dict[str, list[dict]] = {name: [] for name in structures}
    for seed in sorted({s for row in seeds_of.values() for s in row}):
        for name in (n for n in structures if seed in seeds_of[n]):
            config = row_config(base, name, seed, output_dir)
            run_dir = RunFolder.of_row(output_dir, name, seed).path
            log(f"== {name} (seed {seed}) -> {run_dir}")
            record = run_and_evaluate(
                config, run_dir, num_samples, eval_images, time_budget, verbose
            )
            records[name].append(record)
            m = record["metrics"]
            log(f"   LL {m['ll']:.2f} ± {m['ll_sem']:.2f}  KL {m['kl']:.2f}  ELBO {m['elbo']:.2f}")

    table = summarise(records)
    write_json(output_dir / "table1.json", table)
    write_text(
        output_dir / "table1.md",
        table1_markdown(table, _caption(base, records, time_budget, num_samples)),
    )
    _learning_curves(output_dir, records, base)
    if "learned" in structures:
        _learned_figures(
            output_dir, records["learned"], base, scoring.test_images(base, eval_images)
        )
        _write_evidence(output_dir)
    return table


def _write_evidence(output_dir: Path) -> None:
    """`retrained_evidence.md/json`: each learned seed's MAP graph trained from scratch,
    paired with the other rows (`structure_evidence`)."""
    evidence = retrained_evidence(output_dir)
    write_json(output_dir / "retrained_evidence.json", evidence)
    write_text(output_dir / "retrained_evidence.md", evidence_markdown(evidence))


def _check_rows(seeds: list[int], structures: list[str], row_seeds: dict | None) -> None:
    if not seeds:
        raise ValueError("At least one seed is needed.")
    for name in [*structures, *(row_seeds or {})]:
        if name not in ROWS:
            raise ValueError(f"Unknown row {name!r}; expected one of {tuple(ROWS)}.")
    if "learned_map" in structures and (
        "learned" not in structures or structures.index("learned") > structures.index("learned_map")
    ):
        raise ValueError("The learned_map row retrains the learned row's MAP graph: list "
                         "learned before it.")  # fmt: skip


def row_config(base: TrainConfig, name: str, seed: int, output_dir: Path) -> TrainConfig:
    """The configuration of row `name` of :data:`ROWS` with `seed` (`learned_map` reads the
    MAP graph of `learned-seed<seed>` in `output_dir`)."""
    structure, decode_from, node_dims = ROWS[name]
    config = base.replace(structure=structure, decode_from=decode_from, seed=seed)
    if node_dims is not None:
        config = config.replace(num_nodes=len(node_dims), node_dims=list(node_dims))
    if name == "learned_map":
        config = config.replace(edges=map_edges(output_dir, seed))
    return config


def tables_from_runs(
    output_dir: str | Path, structures=tuple(ROWS), log: Callable[[str], None] = print
) -> dict[str, dict]:
    """Table 1 (`table1.md/json`) and `learning_curves.png` from the runs of a `compare`
    folder that have finished (their `eval.json` exists), without training or evaluating:
    for a comparison still running, or one whose runs were split over several commands.
    The runs not finished are named and left out."""
    output_dir = Path(output_dir)
    records: dict[str, list[dict]] = {}
    for name in structures:
        runs = RunFolder.of_rows(output_dir, name)
        finished = [run for run in runs if run.eval_file.exists()]
        if len(finished) < len(runs):
            left_out = ", ".join(r.path.name for r in runs if r not in finished)
            log(f"Not finished, left out: {left_out}")
        if finished:
            records[name] = [run.read_json(RunFolder.EVAL) for run in finished]
    if not records:
        raise ValueError(
            f"{output_dir} holds no finished run (runs/<row>-seed<k>/{RunFolder.EVAL})."
        )
    first = next(iter(records.values()))[0]
    base = TrainConfig.from_json(first["config"])
    table = summarise(records)
    write_json(output_dir / "table1.json", table)
    caption = _caption(base, records, None, first["num_samples"])
    write_text(output_dir / "table1.md", table1_markdown(table, caption))
    _learning_curves(output_dir, records, base)
    if "learned" in records:
        _write_evidence(output_dir)
    return table


def _learning_curves(output_dir: Path, records: dict[str, list[dict]], base: TrainConfig) -> None:
    """`learning_curves.png`: every run's per-epoch validation (else training) ELBO."""
    curves = {}
    for name, runs in records.items():
        histories = []
        for record in runs:
            run = RunFolder.of_row(output_dir, name, record["config"]["seed"])
            if run.history_file.exists():
                histories.append(run.read_json(run.HISTORY)["history"])
        if histories:
            curves[name] = histories
    if curves:
        figures.plot_learning_curves(
            curves, output_dir / "learning_curves.png",
            f"{base.dataset}: ELBO per epoch, every seed (dots: best epoch)", ROW_LABELS,
        )  # fmt: skip


def map_edges(output_dir: Path, seed: int) -> list[list[int]]:
    """The edges `[i, j]` of the MAP graph (`mu > 0.5`) of `learned-seed<seed>`'s kept weights."""
    run = RunFolder.of_row(output_dir, "learned", seed)
    return map_graph_edges(run.kept_edge_probabilities())[0]


def _caption(base: TrainConfig, records: dict, time_budget: float | None, k: int) -> str:
    first = next(r for runs in records.values() for r in runs)
    n_images = first["metrics"]["num_images"]
    seeds = sorted({r["config"]["seed"] for runs in records.values() for r in runs})
    images = (
        f"a fixed random subset of {n_images} test images (data.TEST_SEED)"
        if first["eval_images"] else f"all {n_images} test images"
    )  # fmt: skip
    return (
        f"{base.dataset} ({base.train_split} -> {base.test_split}; LL on {images}), "
        f"N = {base.model.num_nodes}, N' = {base.model.node_dim}, "
        + (
            f"early stopping on {base.validation_split} (the validation ELBO's gain over "
            f"{base.early_stopping_patience} epochs under {base.early_stopping_min_delta:g} "
            f"nats; at most {base.epochs} epochs)"
            if base.early_stopping_patience
            else f"{base.epochs} epochs"
        )
        + (f" or {time_budget:g} s" if time_budget else "")
        + f", K = {k}, seeds {seeds}."
    )


def _learned_figures(
    output_dir: Path, runs: list[dict], base: TrainConfig, images: np.ndarray
) -> None:
    final_mus = []
    for k, record in enumerate(runs):
        seed = record["config"]["seed"]
        run = RunFolder.of_row(output_dir, "learned", seed)
        history = run.read_json(run.EDGE_PROBABILITIES)
        trajectory = [np.asarray(mu) for mu in history["edge_probabilities"]]
        model = keras.saving.load_model(run.model_file)
        sampled = model.gates(np.int32(1), training=False, seed=np.array([seed, 7], np.int32))
        sampled = np.asarray(sampled)[0]
        title = f"{base.dataset}, learned structure, seed {seed}"
        figures.plot_figure2(trajectory, sampled, output_dir / f"figure2_seed{seed}.png", title)
        if k == 0:
            figures.plot_figure2(trajectory, sampled, output_dir / "figure2.png", title)
        mu = trajectory[-1]
        final_mus.append(mu)
        scoring.write_knockout_values(
            model, images, output_dir, f"seed{seed}", title, base.evaluation_xla, seed
        )
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
    min_nodes: int | None = None,
    max_nodes: int | None = None,
) -> list[dict]:
    """Figure 3: `base`'s structure at every factorisation `N x N' = M` with
    `min_nodes <= N <= max_nodes`, each seed.

    Runs live in `output_dir/runs/N<n>x<d>-seed<k>` and resume; `figure3.png/.md/.json`
    then summarise every finished run of the folder (`trainers.figure3`): ablations of
    several M into one folder give one line per M.
    """
    pairs = factorisations(latent_dim, min_nodes, max_nodes)
    base.validate()
    output_dir = Path(output_dir)
    tgv_data.load_numpy(base.dataset, base.train_split, base.data_dir)
    for n, d in pairs:
        for seed in seeds:
            config = base.replace(num_nodes=n, node_dim=d, seed=int(seed))
            run_dir = RunFolder.of_row(output_dir, f"N{n}x{d}", int(seed)).path
            log(f"== N = {n}, N' = {d} (seed {seed}) -> {run_dir}")
            record = run_and_evaluate(config, run_dir, num_samples, eval_images, None, verbose)
            log(f"   LL {record['metrics']['ll']:.2f}")
    return figure3.write(output_dir, f"{base.dataset}: factorisations N x N' = M", log)
