"""Figure 3 as a KerasTuner search: the space, a real (tiny) search, resuming, the command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import keras
import keras_tuner
import pytest

import tf_graphvae as tgv
from tf_graphvae.config import SearchConfig, TrainConfig
from tf_graphvae.trainers import tuning

BIN = Path(sys.executable).parent
DIGITS = TrainConfig.from_flat(dataset="digits", epochs=1, batch_size=256)


def small_model(config: TrainConfig) -> tgv.GraphVAE:
    """The trial's GraphVAE with small networks and no XLA, to keep the searches quick."""
    model = tgv.GraphVAE(
        event_shape=(8, 8, 1),
        num_nodes=config.model.num_nodes,
        node_dim=config.model.node_dim,
        structure=config.model.structure,
        encoder_units=(32,),
        decoder_units=(32,),
        top_down_units=16,
        temperature=config.model.temperature,
        seed=config.seed,
    )
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), jit_compile=False)
    return model


def _space(hypermodel) -> keras_tuner.HyperParameters:
    hp = keras_tuner.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    return hp


def test_the_space_is_every_factorisation_and_builds_models_of_size_m():
    hypermodel = tuning.FactorisationHyperModel(DIGITS, SearchConfig(latent_dim=6))
    hp = _space(hypermodel)
    assert [h.name for h in hp.space] == ["node_dim"]
    assert list(hp.space[0].values) == [1, 2, 3, 6]
    assert hypermodel.factorisations == [(6, 1), (3, 2), (2, 3), (1, 6)]
    assert hypermodel.grid_size == 4
    for node_dim in (1, 2, 3, 6):
        hp.values["node_dim"] = node_dim
        model = hypermodel.build(hp)
        assert isinstance(model, tgv.GraphVAE) and model.optimizer is not None
        assert (model.num_nodes, model.node_dim) == (6 // node_dim, node_dim)
        assert model.num_nodes * model.node_dim == 6
    # build() also works on an empty HyperParameters (the defaults: N' = 1).
    assert hypermodel.build(keras_tuner.HyperParameters()).num_nodes == 6


def test_the_space_filters_and_optional_hyperparameters():
    search = SearchConfig(12, min_nodes=2, max_nodes=6, tune_learning_rate=True,
                          tune_temperature_floor=True)  # fmt: skip
    hypermodel = tuning.FactorisationHyperModel(DIGITS, search)
    hp = _space(hypermodel)
    values = {h.name: list(h.values) for h in hp.space}
    assert values["node_dim"] == [2, 3, 4, 6]  # N in {6, 4, 3, 2}
    assert values["learning_rate"] == [3e-4, 1e-3, 3e-3]
    assert values["temperature_floor"] == [0.1, 0.3, 0.5]
    assert hypermodel.grid_size == 4 * 3 * 3
    hp.values.update(node_dim=4, learning_rate=3e-3, temperature_floor=0.1)
    config = hypermodel.trial_config(hp)
    assert (config.model.num_nodes, config.model.node_dim) == (3, 4)
    assert (config.learning_rate, config.model.min_temperature) == (3e-3, 0.1)


@pytest.mark.parametrize("latent_dim", [0, -4, 2.5, True])
def test_an_invalid_latent_size_is_refused(tmp_path, latent_dim):
    with pytest.raises(ValueError, match="M must be an integer >= 1"):
        tuning.FactorisationHyperModel(DIGITS, SearchConfig(latent_dim))
    with pytest.raises(ValueError, match="M must be an integer >= 1"):
        tuning.tune(DIGITS, SearchConfig(latent_dim), tmp_path / "search")
    assert not (tmp_path / "search").exists()


def test_an_empty_space_and_bad_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no factorisation of M=6 with 7 <= N <= 6"):
        tuning.FactorisationHyperModel(DIGITS, SearchConfig(6, min_nodes=7))
    with pytest.raises(ValueError, match="no factorisation of M=7 with 2 <= N <= 6"):
        tuning.tune(DIGITS, SearchConfig(7, min_nodes=2, max_nodes=6), tmp_path / "search")
    with pytest.raises(ValueError, match="objective"):
        tuning.tune(DIGITS, SearchConfig(4, objective="val_loss"), tmp_path / "search")
    with pytest.raises(ValueError, match="tuner"):
        tuning.tune(DIGITS, SearchConfig(4, tuner="hyperband"), tmp_path / "search")
    with pytest.raises(ValueError, match="temperature floor"):
        tuning.FactorisationHyperModel(
            DIGITS, SearchConfig(4, tune_temperature_floor=True, temperature_floors=(2.0,))
        )
    assert not (tmp_path / "search").exists()


class _Killed(BaseException):
    """Stands for the process being killed in the middle of a trial."""


def test_grid_search_on_digits_writes_results_and_resumes(tmp_path, monkeypatch):
    calls = {"build": 0, "fit": 0}
    kill_at_fit = {"n": 2}
    build, fit = tuning.FactorisationHyperModel.build, tuning.FactorisationHyperModel.fit

    def counting_build(self, hp):
        calls["build"] += 1
        return build(self, hp)

    def counting_fit(self, hp, model, *args, **kwargs):
        calls["fit"] += 1
        if calls["fit"] == kill_at_fit["n"]:
            raise _Killed
        return fit(self, hp, model, *args, **kwargs)

    monkeypatch.setattr(tuning.FactorisationHyperModel, "build", counting_build)
    monkeypatch.setattr(tuning.FactorisationHyperModel, "fit", counting_fit)
    directory = tmp_path / "tuning"

    def run():
        calls.update(build=0, fit=0)
        search = SearchConfig(latent_dim=4)
        return tuning.tune(DIGITS, search, directory, model_fn=small_model, log=lambda _: None)

    # 1. Killed during the second of the three trials.
    with pytest.raises(_Killed):
        run()
    assert calls["fit"] == 2
    assert not (directory / tuning.RESULTS_JSON).exists()

    # 2. Resumed: the first trial is kept, the interrupted one is rerun, the third follows.
    kill_at_fit["n"] = None
    results = run()
    assert calls["fit"] == 2
    assert [(r["num_nodes"], r["node_dim"]) for r in results] == [(4, 1), (2, 2), (1, 4)]
    for r in results:
        assert r["latent_dim"] == 4 and r["best_epoch"] == 1
        assert isinstance(r["val_elbo"], float) and -200 < r["val_elbo"] < 0

    saved = json.loads((directory / tuning.RESULTS_JSON).read_text())
    assert saved["results"] == results and saved["objective"] == "val_elbo"
    assert saved["best"] == max(results, key=lambda r: r["val_elbo"])
    table = (directory / tuning.RESULTS_MD).read_text()
    assert "| N | N' | validation ELBO (nats) |" in table
    for r in results:
        assert f"| {r['num_nodes']} | {r['node_dim']} |" in table
    assert (directory / tuning.FIGURE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    trial_files = sorted((directory / "search").glob("trial_*/trial.json"))
    assert len(trial_files) == 3
    assert {json.loads(f.read_text())["status"] for f in trial_files} == {"COMPLETED"}

    # 3. Run again: nothing is built or trained, the same results come back.
    assert run() == results
    assert calls == {"build": 0, "fit": 0}
    assert len(list((directory / "search").glob("trial_*/trial.json"))) == 3

    # 4. Other settings in the same directory are refused.
    with pytest.raises(ValueError, match="other settings.*epochs"):
        tuning.tune(
            TrainConfig(dataset="digits", epochs=2, batch_size=256), SearchConfig(4), directory,
            log=print,
        )  # fmt: skip


def test_random_search_on_the_importance_weighted_ll(tmp_path):
    search = SearchConfig(
        latent_dim=2,
        objective="val_ll",
        tuner="random",
        max_nodes=1,  # only N = 1, N' = 2: one trial
        tune_temperature_floor=True,
        temperature_floors=(0.3,),
        num_samples=8,
        eval_images=32,
    )
    results = tuning.tune(
        DIGITS,
        search,
        tmp_path,
        model_fn=small_model,
        log=lambda _: None,
    )
    assert len(results) == 1
    (row,) = results
    assert (row["num_nodes"], row["node_dim"], row["temperature_floor"]) == (1, 2, 0.3)
    assert row["unit"] == "nats" and row["ll"] < 0 and row["ll_sem"] >= 0
    assert isinstance(row["val_elbo"], float)
    assert "validation LL (nats, K = 8)" in (tmp_path / tuning.RESULTS_MD).read_text()
    assert (tmp_path / tuning.FIGURE).exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--latent_dim=0"], "latent_dim"),
        (["--latent_dim=-4"], "latent_dim"),
        (["--latent_dim=6", "--min_nodes=7"], "no factorisation of M=6"),
    ],
)
def test_command_refuses_bad_latent_sizes(tmp_path, flags, message):
    directory = tmp_path / "tuning"
    result = subprocess.run(
        [str(BIN / "tfgvae-tune"), "--dataset=digits", *flags, f"--directory={directory}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("tfgvae-tune:")]
    assert len(errors) == 1 and message in errors[0]
    assert not directory.exists()


def test_the_tuner_scores_on_a_validation_split_cut_from_training():
    from tf_graphvae.config import TrainConfig, hold_out

    config = hold_out(TrainConfig.from_flat(dataset="digits"), 10)
    assert (config.train_split, config.test_split) == ("train@fit10%", "train@val10%")
    train = tgv.data.load_numpy("digits", config.train_split)
    valid = tgv.data.load_numpy("digits", config.test_split)
    whole = tgv.data.load_numpy("digits", "train")
    assert len(train) + len(valid) == len(whole) and len(valid) == round(0.1 * len(whole))
    # A random sample of the whole split, disjoint from what trains: not its tail.
    rows = {row.tobytes(): i for i, row in enumerate(whole)}
    held = sorted(rows[row.tobytes()] for row in valid)
    assert not set(held) & {rows[row.tobytes()] for row in train}
    assert held[0] < 0.1 * len(whole) and held[-1] > 0.9 * len(whole)
    assert hold_out(config, 0) is config
    with pytest.raises(ValueError, match="whole training split"):
        hold_out(config, 10)


def test_the_tune_command_has_only_the_flags_that_apply_to_a_search():
    result = subprocess.run([str(BIN / "tfgvae-tune"), "--help"], capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0
    listed = {line.split(":")[0].strip() for line in result.stdout.splitlines()
              if line.strip().startswith("--")}  # fmt: skip
    assert {"--directory", "--overwrite", "--latent_dim", "--dataset", "--epochs"} <= listed
    # The search sets N and N' itself and scores on its own validation split.
    for absent in ("--num_nodes", "--node_dim", "--node_dims", "--structure_file",
                   "--validation_split", "--early_stopping_patience", "--output_dir",
                   "--seeds", "--num_importance_samples"):  # fmt: skip
        assert absent not in listed, absent


def test_the_best_trial_is_given_as_a_train_command():
    from tf_graphvae.trainers.cli._train_flags import command_line

    config = TrainConfig.from_flat(dataset="mnist", num_nodes=2, node_dim=25, jit_compile=False,
                         node_dims=[20, 30], learning_rate=3e-3)  # fmt: skip
    assert command_line(config) == (
        "tfgvae-train --dataset=mnist --learning_rate=0.003 --nojit_compile --num_nodes=2 "
        "--node_dim=25 --node_dims=20,30"
    )


def test_factorisations_within_bounds_on_n():
    from tf_graphvae.config import factorisations

    assert factorisations(50) == [(50, 1), (25, 2), (10, 5), (5, 10), (2, 25), (1, 50)]
    assert factorisations(50, max_nodes=10) == [(10, 5), (5, 10), (2, 25), (1, 50)]
    assert factorisations(50, min_nodes=5, max_nodes=10) == [(10, 5), (5, 10)]
    with pytest.raises(ValueError, match="no factorisation of M=50 with 11 <= N <= 24"):
        factorisations(50, min_nodes=11, max_nodes=24)


def test_the_tune_command_prints_fixed_point_lines_and_no_retracing_warning(tmp_path):
    result = subprocess.run(
        [str(BIN / "tfgvae-tune"), "--dataset=digits", "--latent_dim=2", "--epochs=1",
         "--nojit_compile", f"--directory={tmp_path / 'tuning'}"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    epoch_lines = [line for line in output.splitlines() if "steps - " in line]
    assert len(epoch_lines) == 2  # one epoch per trial, N in {2, 1}
    assert not re.search(r"\de[+-]\d\d", "\n".join(epoch_lines)), epoch_lines
    assert "retracing" not in output
