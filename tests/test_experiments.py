"""The paper's experiments as commands: compare, ablation, evaluate; resume and budgets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_picture, run_command

from tf_graphvae.config import RunFolder
from tf_graphvae.trainers import experiment
from tf_graphvae.trainers.callbacks import TimeBudget
from tf_graphvae.trainers.paper import comparison, structure_evidence

# Without XLA: these runs are so short that compiling would take most of their time.
TINY = dict(dataset="digits", num_nodes=3, node_dim=2, epochs=1, batch_size=256, jit_compile=False)


def _png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_factorisations():
    assert comparison.factorisations(12) == [(12, 1), (6, 2), (4, 3), (3, 4), (2, 6), (1, 12)]
    assert comparison.factorisations(7) == [(7, 1), (1, 7)]
    for bad in (0, -4, 2.5):
        with pytest.raises(ValueError, match="latent size"):
            comparison.factorisations(bad)


def test_compare_writes_table1_figure2_and_stability(tmp_path):
    config = experiment.TrainConfig.from_flat(**TINY)
    out = tmp_path / "cmp"
    structures = ("full", "learned", "learned_map")  # all four are trained in test_model.py

    def run():
        return comparison.compare(
            config,
            out,
            seeds=(0, 1),
            structures=structures,
            num_samples=20,
            eval_images=20,
            verbose=0,
            log=lambda _: None,
        )

    table = run()
    saved = json.loads((out / "table1.json").read_text())
    assert set(saved) == {*structures, "learned (MAP)"} == set(table)
    assert saved["learned"]["vs_full"]["seeds"] == [0, 1]  # paired by seed
    # The MAP graph of each seed's learned run, retrained from scratch as a fixed structure.
    for seed in (0, 1):
        retrained = json.loads((out / "runs" / f"learned_map-seed{seed}" / "eval.json").read_text())
        assert retrained["config"]["model"]["structure"] == "fixed"
        assert retrained["config"]["model"]["edges"] == comparison.map_edges(out, seed)
    assert saved["learned_map"]["vs_full"]["verdict"] in ("better", "worse", "interval includes 0")
    assert "vs_full" not in saved["full"]
    for row in saved.values():
        assert row["seeds"] == [0, 1] and len(row["ll_per_seed"]) == 2
        assert np.isfinite([row["ll"], row["kl"], row["elbo"]]).all()
        assert row["ll_std"] >= 0 and row["kl"] >= 0
    markdown = (out / "table1.md").read_text()
    for name in ("VAE", "Graph VAE", "±"):
        assert name in markdown
    for name in ("figure2.png", "figure2_seed0.png", "figure2_seed1.png", "edge_stability.png"):
        assert _png(out / name)
    survival = np.asarray(json.loads((out / "edge_stability.json").read_text())["survival"])
    assert survival.shape == (3, 3) and np.all((survival >= 0) & (survival <= 1))
    assert np.all(survival[np.triu_indices(3)] == 0)
    structure = json.loads((out / "structure_seed0.json").read_text())
    assert structure["num_nodes"] == 3
    assert all(i > j for i, j in structure["edges"])
    assert "digraph" in (out / "structure_seed0.dot").read_text()
    edges = json.loads((out / "knockout_values_seed1.json").read_text())
    assert len(edges["value"]) == 3 and np.isfinite(edges["sem"]).all()
    table = (out / "knockout_values_seed0.md").read_text()
    assert _png(out / "knockout_values_seed0.png") and "knock-out value" in table
    assert "supported" not in table and _png(out / "learning_curves.png")
    _check_retrained_evidence(out, saved, tmp_path / "other")
    # A second run of the same command reuses every finished run.
    eval_file = out / "runs" / "learned-seed1" / "eval.json"
    before = eval_file.stat().st_mtime_ns
    run()
    assert eval_file.stat().st_mtime_ns == before
    # The tables alone, from the finished runs; an unfinished run is named and left out.
    eval_file.rename(eval_file.with_suffix(".moved"))
    said = []
    table = comparison.tables_from_runs(out, ("full", "learned"), log=said.append)
    assert said == ["Not finished, left out: learned-seed1"]
    assert table["learned"]["seeds"] == [0] and table["full"]["seeds"] == [0, 1]
    assert "| Graph VAE (`learned`) | 1 |" in (out / "table1.md").read_text()


def _check_retrained_evidence(out: Path, saved: dict, other: Path) -> None:
    """retrained_evidence.json pairs each learned_map run with FC-VAE; a learned run whose
    MAP graph is a row already trained with the same settings is paired through that run."""
    evidence = json.loads((out / "retrained_evidence.json").read_text())
    assert [e["retrained"] for e in evidence["seeds"]] == ["`learned_map` (seed 0)",
                                                           "`learned_map` (seed 1)"]  # fmt: skip
    assert evidence["vs"]["full"]["per_seed"] == pytest.approx(
        saved["learned_map"]["vs_full"]["per_seed"]
    )
    assert "− FC-VAE" in (out / "retrained_evidence.md").read_text()
    # Another folder's learned run, its gates all at 1: its MAP graph is FC-VAE's mask.
    run = other / "runs" / "learned-seed0"
    shutil.copytree(out / "runs" / "learned-seed0", run)
    folder = RunFolder(run)
    gates = folder.read_json(RunFolder.EDGE_PROBABILITIES)
    gates["edge_probabilities"][-1] = np.tril(np.ones((3, 3)), -1).tolist()
    (run / RunFolder.EDGE_PROBABILITIES).write_text(json.dumps(gates))
    evidence = structure_evidence.retrained_evidence(other, baseline=out)
    (entry,) = evidence["seeds"]
    assert entry["dropped"] == [] and entry["same_run_as"] == "full"
    assert entry["ll"] == saved["full"]["ll_per_seed"][0]
    assert "0 (the same run)" in structure_evidence.evidence_markdown(evidence)
    # No edge left: the VAE row has no top-down pass, so it does not stand for that graph.
    comparison.compare(experiment.TrainConfig.from_flat(**TINY), out, seeds=(0,),
                       structures=("independent",), num_samples=20, eval_images=20, verbose=0,
                       log=lambda _: None)  # fmt: skip
    gates["edge_probabilities"][-1] = np.zeros((3, 3)).tolist()
    (run / RunFolder.EDGE_PROBABILITIES).write_text(json.dumps(gates))
    (entry,) = structure_evidence.retrained_evidence(other, baseline=out)["seeds"]
    assert entry["kept"] == [] and entry["same_run_as"] is None
    # One edge dropped: no row of `out` has that graph, so it is not retrained.
    gates["edge_probabilities"][-1] = np.tril(np.ones((3, 3)), -1).tolist()
    gates["edge_probabilities"][-1][2][0] = 0.1
    (run / RunFolder.EDGE_PROBABILITIES).write_text(json.dumps(gates))
    (entry,) = structure_evidence.retrained_evidence(other, baseline=out)["seeds"]
    assert entry["dropped"] == [[2, 0]] and entry["retrained"].startswith("not retrained")
    # The complete graph again, but trained with another learning rate: not the same model.
    gates["edge_probabilities"][-1][2][0] = 0.9
    (run / RunFolder.EDGE_PROBABILITIES).write_text(json.dumps(gates))
    record = folder.read_json(RunFolder.EVAL)
    record["config"]["learning_rate"] *= 2
    folder.eval_file.write_text(json.dumps(record))
    (entry,) = structure_evidence.retrained_evidence(other, baseline=out)["seeds"]
    assert entry["same_run_as"] is None and "ll" not in entry


def test_ablation_covers_every_factorisation_and_every_m_in_its_folder(tmp_path):
    config = experiment.TrainConfig.from_flat(**TINY)
    quiet = dict(num_samples=10, eval_images=10, verbose=0, log=lambda _: None)
    comparison.ablation(config, 2, tmp_path, seeds=(0,), **quiet)
    rows = comparison.ablation(config, 4, tmp_path, seeds=(0, 1), max_nodes=2, **quiet)
    # One line per M: both ablations' runs are summarised, by M then N' (N <= max_nodes).
    assert [(r["latent_dim"], r["num_nodes"], r["node_dim"]) for r in rows] == [
        (2, 2, 1), (2, 1, 2), (4, 2, 2), (4, 1, 4)]  # fmt: skip
    assert [r["seeds"] for r in rows] == [[0], [0], [0, 1], [0, 1]]
    assert "vs_previous" not in rows[0] and "vs_previous" not in rows[2]
    paired = rows[3]["vs_previous"]  # N' = 4 minus N' = 2 of M = 4, over 2 seeds
    assert paired["seeds"] == [0, 1] and paired["dof"] == 1 and paired["sem_over"] == "seeds"
    assert rows[3]["num_edges"] == 0 and rows[2]["num_edges"] == 1
    assert all(0 <= e <= 1 for e in rows[2]["edges_dropped"])
    assert _png(tmp_path / "figure3.png")
    assert json.loads((tmp_path / "figure3.json").read_text()) == rows
    table = (tmp_path / "figure3.md").read_text()
    assert "| 4 | 1 | 4 | 0, 1 |" in table and "| 2 | 1 | 2 | 0 |" in table


def test_training_resumes_from_the_last_epoch(tmp_path):
    config = experiment.TrainConfig.from_flat(**{**TINY, "epochs": 2})
    first = experiment.train(config, tmp_path, verbose=0)
    steps_per_epoch = int(np.ceil(1437 / config.batch_size))
    assert int(first.model.optimizer.iterations.numpy()) == 2 * steps_per_epoch
    config.epochs = 4
    second = experiment.train(config, tmp_path, verbose=0)
    assert int(second.model.optimizer.iterations.numpy()) == 4 * steps_per_epoch
    assert len(second.history["loss"]) == 4
    # Every epoch's wall time is logged, the resumed ones included (the user's throughput).
    assert len(second.history["epoch_seconds"]) == 4
    assert all(t > 0 for t in second.history["epoch_seconds"])
    saved = json.loads(RunFolder(tmp_path).history_file.read_text())["history"]
    assert saved["epoch_seconds"] == second.history["epoch_seconds"]
    assert len(second.edge_history) == 5  # before training + 4 epochs, no gap, no duplicate
    np.testing.assert_array_equal(second.edge_history[2], first.edge_history[2])
    other = experiment.TrainConfig.from_flat(**{**TINY, "structure": "chain"})
    with pytest.raises(ValueError, match="another configuration"):
        experiment.train(other, tmp_path, verbose=0)


def test_time_budget_stops_training():
    config = experiment.TrainConfig.from_flat(**{**TINY, "epochs": 1000})
    budget = TimeBudget(3.0)
    result = experiment.train(config, None, callbacks=[budget], verbose=0)
    assert len(result.history["loss"]) < 1000
    with pytest.raises(ValueError, match="budget"):
        TimeBudget(0)


def test_evaluate_command(tmp_path):
    experiment.train(experiment.TrainConfig.from_flat(**TINY), tmp_path / "run", verbose=0)
    result = run_command(
        "tfgvae-evaluate",
        f"--model_dir={tmp_path / 'run'}",
        "--num_importance_samples=20",
        "--eval_images=30",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads((tmp_path / "run" / "evaluation.json").read_text())
    assert record["num_images"] == 30 and record["num_samples"] == 20 and record["ll"] < 0
    assert "LL (nats)" in (tmp_path / "run" / "evaluation.md").read_text()
    for name in ("samples_evaluation.png", "reconstructions_evaluation.png"):
        assert_picture(tmp_path / "run" / name)
        assert name in result.stdout.splitlines()[-1]  # the "Wrote ..." line
    missing = run_command("tfgvae-evaluate", f"--model_dir={tmp_path / 'nothing'}", timeout=120)
    assert missing.returncode == 2 and "holds no model" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_kl_warmup_ramps_the_kl_weight():
    config = experiment.TrainConfig.from_flat(**{**TINY, "epochs": 2, "kl_warmup_epochs": 4})
    result = experiment.train(config, None, verbose=0)
    weights = result.history["kl_weight"]
    steps = -(-1437 // config.batch_size)
    # beta is set before each step from the step count: after epoch e it is (e*steps - 1)/(4*steps).
    np.testing.assert_allclose(
        weights, [(steps - 1) / (4 * steps), (2 * steps - 1) / (4 * steps)], rtol=1e-6
    )
    assert float(result.model.kl_weight.numpy()) < 1.0


def test_gate_hold_keeps_the_gates_still_then_lets_them_move():
    config = experiment.TrainConfig.from_flat(
        **{**TINY, "epochs": 3, "gate_learning_rate": 1e-2, "gate_hold_epochs": 2}
    )
    result = experiment.train(config, None, verbose=0)
    mus = [mu[np.tril_indices(3, -1)] for mu in result.edge_history]
    # Held for two epochs: mu stays at its initial 0.5; in the third it moves.
    np.testing.assert_array_equal(mus[1], mus[0])
    np.testing.assert_array_equal(mus[2], mus[0])
    assert np.abs(mus[3] - mus[0]).max() > 1e-3
    assert float(result.model.gate_optimizer.learning_rate.numpy()) == pytest.approx(1e-2)


def test_gate_hold_needs_the_gates_own_optimizer():
    config = experiment.TrainConfig.from_flat(
        **{**TINY, "gate_learning_rate": None, "gate_hold_epochs": 1}
    )
    with pytest.raises(ValueError, match="gate_learning_rate"):
        config.validate()
    with pytest.raises(ValueError, match="gate_hold_epochs"):
        experiment.TrainConfig.from_flat(**{**TINY, "gate_hold_epochs": -1}).validate()


def test_per_batch_gates_reach_the_model():
    config = experiment.TrainConfig.from_flat(**{**TINY, "per_example_gates": False})
    model = experiment.build_model(config)
    assert model.gates.per_example is False
    c = model.gates(np.int32(16), training=True).numpy()
    np.testing.assert_array_equal(c, np.broadcast_to(c[:1], c.shape))


def test_jit_compile_reaches_the_model_and_may_change_on_resume(tmp_path):
    """`jit_compile` is how a run executes, not what it learns: a resumed run may switch it."""
    assert experiment.build_model(experiment.TrainConfig.from_flat(**TINY)).jit_compile is False
    compiled = experiment.TrainConfig.from_flat(**{**TINY, "jit_compile": True})
    assert experiment.build_model(compiled).jit_compile is True
    RunFolder(tmp_path).config_file.write_text(json.dumps({**TINY, "jit_compile": False}))
    RunFolder(tmp_path).check_resumable(compiled)  # accepted
    other = experiment.TrainConfig.from_flat(**{**TINY, "node_dim": 3})
    with pytest.raises(ValueError, match="node_dim"):
        RunFolder(tmp_path).check_resumable(other)


def test_a_run_written_before_a_config_field_existed_still_resumes(tmp_path):
    config = experiment.TrainConfig.from_flat(**TINY)
    older = config.flat()  # the flat config.json of versions before `model` was nested
    del older["gate_hold_epochs"], older["per_example_gates"]  # fields added later
    RunFolder(tmp_path).config_file.write_text(json.dumps(older))
    assert RunFolder(tmp_path).read_config() == config
    RunFolder(tmp_path).check_resumable(config)  # defaults: accepted
    changed = config.replace(per_example_gates=False)
    with pytest.raises(ValueError, match="per_example_gates"):
        RunFolder(tmp_path).check_resumable(changed)


def test_xla_compiles_the_train_step_of_long_runs_and_every_evaluation():
    from tf_graphvae.config.run import XLA_MIN_STEPS

    auto = experiment.TrainConfig()
    assert auto.jit_compile is None and auto.evaluation_xla
    assert not auto.train_step_xla(XLA_MIN_STEPS - 1) and auto.train_step_xla(XLA_MIN_STEPS)
    assert auto.train_step_xla(None)  # steps unknown (a tuner's trial): compiled
    forced, off = (
        experiment.TrainConfig.from_flat(jit_compile=True),
        experiment.TrainConfig.from_flat(jit_compile=False),
    )
    assert forced.train_step_xla(1) and forced.evaluation_xla
    assert not off.train_step_xla(10**6) and not off.evaluation_xla
    # The Quickstart's run (digits, 20 epochs of 12 steps) trains without compiling.
    assert experiment.build_model(auto, steps=20 * 12).jit_compile is False
