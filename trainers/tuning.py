"""Figure 3 as a KerasTuner search: which factorisation `N x N' = M` of a latent size is best.

`FactorisationHyperModel` is the search space (`node_dim` over every divisor `N'` of `M`,
`N = M // N'`; optionally the learning rate and the gate temperature floor) and `tune`
runs it with a grid (default: every factorisation once), random or Bayesian search.
The objective is the validation ELBO (`val_elbo`, which `fit` logs on the config's
`test_split`, there a validation split) or the importance-weighted log-likelihood
(`val_ll`) after training.

A search lives in `directory/project_name` and resumes when run again: completed trials
are not retrained, an interrupted trial is run again, and (for the grid) the remaining
combinations follow.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import keras_tuner
from keras_tuner.src.tuners.gridsearch import GridSearchOracle, LinkedList

from tf_graphvae import data as tgv_data
from tf_graphvae import figures
from tf_graphvae.config import SearchConfig, TrainConfig
from tf_graphvae.config.files import atomic_path, write_json, write_text
from tf_graphvae.model import GraphVAE
from tf_graphvae.scoring import test_images
from tf_graphvae.trainers.hypermodel import FactorisationHyperModel
from tf_graphvae.trainers.resolve import check_scale, resolve

RESULTS_JSON = "tuning_results.json"
RESULTS_MD = "tuning_results.md"
FIGURE = "figure3.png"
SEARCH_CONFIG = "tuning_config.json"


class ResumableGridSearchOracle(GridSearchOracle):
    """`GridSearchOracle` whose search goes on after a reload.

    KerasTuner 1.4 does not save the grid's bookkeeping (the trials in grid order and
    the trials whose successor is still to be generated), so a reloaded grid search
    either stops early or fails with a KeyError (keras-team/keras-tuner#1055). Both are
    rebuilt here from the reloaded trials.
    """

    def set_state(self, state):
        super().set_state(state)
        space = self.get_space()
        names = [hp.name for hp in space.space]

        def compare(a: str, b: str) -> int:
            va, vb = self.trials[a].hyperparameters.values, self.trials[b].hyperparameters.values
            if any(n not in va for n in names) or any(n not in vb for n in names):
                return (a > b) - (a < b)
            return self._compare(va, vb)

        self._ordered_ids = LinkedList()
        for trial_id in sorted(self.trials, key=functools.cmp_to_key(compare)):
            self._ordered_ids.insert(trial_id)
        self._populate_next = [t for t in self.end_order if t in self.trials]


def _make_tuner(
    kind: str,
    hypermodel: FactorisationHyperModel,
    max_trials: int,
    directory: Path,
    project_name: str,
    overwrite: bool,
) -> keras_tuner.Tuner:
    common = {
        "directory": str(directory),
        "project_name": project_name,
        "overwrite": overwrite,
    }
    objective = hypermodel.objective
    # KerasTuner draws a random seed for seed=0, so the run's seed is shifted by one.
    seed = hypermodel.config.seed + 1
    if kind == "grid":
        oracle = ResumableGridSearchOracle(objective=objective, max_trials=max_trials)
        return keras_tuner.Tuner(oracle=oracle, hypermodel=hypermodel, **common)
    if kind == "random":
        return keras_tuner.RandomSearch(
            hypermodel, objective=objective, max_trials=max_trials, seed=seed, **common
        )
    return keras_tuner.BayesianOptimization(
        hypermodel, objective=objective, max_trials=max_trials, seed=seed, **common
    )


def _check_resumable(project_dir: Path, search_config: dict) -> None:
    path = project_dir / SEARCH_CONFIG
    if not path.exists():
        return
    saved = json.loads(path.read_text())
    ours = dict(search_config)
    saved_config, our_config = saved.pop("config", {}), ours.pop("config")
    changed = [k for k in sorted(set(saved) | set(ours)) if saved.get(k) != ours.get(k)]
    changed += [
        k
        for k in sorted(set(saved_config) | set(our_config))
        if saved_config.get(k) != our_config.get(k)
    ]
    if changed:
        raise ValueError(
            f"{project_dir} holds a search with other settings ({', '.join(changed)}); "
            "use another directory, restore the settings to resume it, or start afresh with "
            "overwrite=True (tfgvae-tune --overwrite)."
        )


def _row(trial, hypermodel: FactorisationHyperModel, unit: str) -> dict:
    hp = trial.hyperparameters.values
    node_dim = int(hp["node_dim"])
    row = {
        "trial_id": trial.trial_id,
        "latent_dim": hypermodel.latent_dim,
        "num_nodes": hypermodel.latent_dim // node_dim,
        "node_dim": node_dim,
    }
    if hypermodel.tune_learning_rate:
        row["learning_rate"] = float(hp["learning_rate"])
    if hypermodel.tune_temperature_floor:
        row["temperature_floor"] = float(hp["temperature_floor"])
    metrics = trial.metrics
    if hypermodel.objective.name == "val_elbo":
        row["val_elbo"] = float(trial.score)
        row["best_epoch"] = int(trial.best_step) + 1
    else:
        row["ll"] = float(trial.score)
        if metrics.exists("val_ll_sem"):
            row["ll_sem"] = float(metrics.get_last_value("val_ll_sem"))
        row["unit"] = unit
        if metrics.exists("val_elbo"):
            row["val_elbo"] = float(metrics.get_last_value("val_elbo"))
    return row


def _markdown(rows: list[dict], hypermodel: FactorisationHyperModel, caption: str) -> str:
    key, label = _objective_column(hypermodel, rows)
    head = ["N", "N'"]
    if hypermodel.tune_learning_rate:
        head.append("learning rate")
    if hypermodel.tune_temperature_floor:
        head.append("τ floor")
    head.append(label)
    best = max(rows, key=lambda r: r[key])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [str(r["num_nodes"]), str(r["node_dim"])]
        if hypermodel.tune_learning_rate:
            cells.append(f"{r['learning_rate']:g}")
        if hypermodel.tune_temperature_floor:
            cells.append(f"{r['temperature_floor']:g}")
        value = f"{r[key]:.2f}" + (f" ± {r['ll_sem']:.2f}" if "ll_sem" in r else "")
        cells.append(f"**{value}**" if r is best else value)
        lines.append("| " + " | ".join(cells) + " |")
    footer = f"Best: N = {best['num_nodes']}, N' = {best['node_dim']}, {label} = {best[key]:.2f}."
    return caption + "\n\n" + "\n".join(lines) + "\n\n" + footer + "\n"


def _objective_column(hypermodel: FactorisationHyperModel, rows: list[dict]) -> tuple[str, str]:
    if hypermodel.objective.name == "val_ll":
        unit = rows[0].get("unit", "nats")
        return "ll", f"validation LL ({unit}, K = {hypermodel.num_samples})"
    return "val_elbo", "validation ELBO (nats)"


def _figure(rows: list[dict], hypermodel: FactorisationHyperModel, path: Path, title: str):
    key, label = _objective_column(hypermodel, rows)
    points = [
        {k: r[k] for k in ("latent_dim", "num_nodes", "node_dim")} | {"ll": r[key]} for r in rows
    ]
    fig = figures.build_figure3(points, title=title)
    fig.axes[0].set_ylabel(label)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")


def tune(
    base_config: TrainConfig,
    search: SearchConfig,
    directory: str | Path,
    overwrite: bool = False,
    *,
    model_fn: Callable[[TrainConfig], GraphVAE] | None = None,
    verbose: int | str = 0,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Searches the factorisations `N x N' = M` of a latent size with KerasTuner.

    Every trial trains a GraphVAE as `experiment.train` would (`base_config.epochs`
    epochs) and is scored on `base_config.test_split`, a validation split cut from the
    training data (`config.hold_out(config, 10)`, as `tfgvae-tune` does), never the test
    split: by its best epoch's `val_elbo`, or by the importance-weighted LL after training
    (`objective="val_ll"`). Running `tune` again with the same settings resumes the search
    in `directory/project_name` (an interrupted trial is rerun); other settings are refused
    unless `overwrite`. Writes `tuning_results.json` (settings, the rows below, every
    completed trial), `tuning_results.md` and `figure3.png` into `directory`.

    Args:
        base_config: the training run (dataset, epochs, batch size, seed...).
        search: what is searched and how it is scored (`SearchConfig`: `M`, the tuner,
            the objective, `max_trials`; the rest as `FactorisationHyperModel` reads it).
        directory: where the search and the results go.
        overwrite: start afresh, deleting the search in `directory/<search.project_name>`.
        model_fn: see `FactorisationHyperModel`.
        verbose: KerasTuner and `fit` verbosity.
        log: where progress lines go.

    Returns:
        One dict per factorisation tried, by increasing `N'` (the best trial of each
        when other hyperparameters are searched too): `trial_id`, `latent_dim`,
        `num_nodes`, `node_dim`, the objective (`val_elbo` and `best_epoch`, or `ll`,
        `ll_sem`, `unit` and the last epoch's `val_elbo`), and the searched
        `learning_rate` / `temperature_floor`.

    Raises:
        ValueError: a bad `M`, option or configuration, no factorisation left by the
            filters, or a `directory` holding a search with other settings.
        FileNotFoundError: the data cannot be found (checked before anything is written).
        RuntimeError: no trial completed.
    """
    hypermodel = FactorisationHyperModel(base_config, search, model_fn=model_fn)
    search = hypermodel.search  # validated
    tuner, objective = search.tuner, search.objective
    keras_search, project_dir, settings = _start_search(
        hypermodel, tuner, search.max_trials, Path(directory), search.project_name, overwrite
    )
    log(
        f"== {hypermodel.config.dataset}: N x N' = {hypermodel.latent_dim}, {tuner} search "
        f"of {len(hypermodel.node_dims)} factorisations, objective {objective} -> {project_dir}"
    )
    keras_search.search(epochs=hypermodel.config.epochs, verbose=verbose)
    done, failed = _finished_trials(keras_search, project_dir, log)
    return _write_results(Path(directory), hypermodel, done, failed, settings, tuner, objective)


def _start_search(hypermodel, tuner: str, max_trials, directory: Path, project_name, overwrite):
    """The checked, resumable KerasTuner search, its folder and its recorded settings.

    Missing data and a folder holding a search with other settings are refused before
    anything is written.
    """
    config = hypermodel.config
    if max_trials is None:
        max_trials = hypermodel.grid_size if tuner == "grid" else len(hypermodel.node_dims)
    tgv_data.load_numpy(config.dataset, config.train_split, config.data_dir)
    check_scale(resolve(config))  # raw continuous features, as `experiment.train` refuses
    test_images(config, 1)
    project_dir = directory / project_name
    search_config = hypermodel.search_config() | {"tuner": tuner}
    if not overwrite:
        _check_resumable(project_dir, search_config)
    search = _make_tuner(tuner, hypermodel, max_trials, directory, project_name, overwrite)
    write_json(project_dir / SEARCH_CONFIG, search_config)
    return search, project_dir, search_config | {"max_trials": max_trials}


def _finished_trials(search, project_dir: Path, log: Callable[[str], None]):
    """The completed and the failed trials (each failure logged); no completed trial raises."""
    trials = list(search.oracle.trials.values())
    done = [t for t in trials if t.status == "COMPLETED" and t.score is not None]
    failed = [t for t in trials if t.status in ("INVALID", "FAILED")]
    for t in failed:
        reason = (t.message or "").strip().splitlines()[-1:] or ["unknown error"]
        log(f"   trial {t.trial_id} {t.hyperparameters.values} failed: {reason[0]}")
    if not done:
        raise RuntimeError(
            f"No trial of the search in {project_dir} completed"
            + (f"; trial {failed[0].trial_id} failed with:\n{failed[0].message}" if failed else ".")
        )
    return done, failed


def _write_results(directory, hypermodel, done, failed, settings, tuner, objective) -> list[dict]:
    """The best trial of each factorisation, written as JSON, markdown and Figure 3."""
    config = hypermodel.config
    unit = "bits/dim" if tgv_data.run_likelihood(config) == "discretized_logistic" else "nats"
    all_rows = sorted(
        (_row(t, hypermodel, unit) for t in done), key=lambda r: (r["node_dim"], r["trial_id"])
    )
    key, label = _objective_column(hypermodel, all_rows)
    best: dict[int, dict] = {}
    for row in all_rows:
        if row["node_dim"] not in best or row[key] > best[row["node_dim"]][key]:
            best[row["node_dim"]] = row
    rows = [best[d] for d in sorted(best)]
    caption = (
        f"{config.dataset} ({config.train_split} -> {config.test_split}): factorisations "
        f"N x N' = M = {hypermodel.latent_dim}, {config.model.structure} structure, "
        f"{config.epochs} epoch{'s' if config.epochs != 1 else ''} per trial, "
        f"{tuner} search ({len(done)} trial{'s' if len(done) != 1 else ''} completed"
        + (f", {len(failed)} failed" if failed else "")
        + f"), objective {objective} (max)."
    )
    failed_trials = [
        {"trial_id": t.trial_id, "hyperparameters": t.hyperparameters.values} for t in failed
    ]
    write_json(
        directory / RESULTS_JSON,
        {
            "settings": settings, "objective": objective, "direction": "max",
            "best": max(rows, key=lambda r: r[key]), "results": rows, "trials": all_rows,
            "failed_trials": failed_trials,
        },
    )  # fmt: skip
    write_text(directory / RESULTS_MD, _markdown(rows, hypermodel, caption))
    title = f"{config.dataset}: N x N' = {hypermodel.latent_dim}, {label}"
    _figure(rows, hypermodel, directory / FIGURE, title)
    return rows
