"""scripts/recipe_screen.py: one setting chosen on validation runs, the same rule for every row."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tf_graphvae.config import RunFolder
from tf_graphvae.trainers import experiment
from tf_graphvae.trainers.paper import comparison

TINY = dict(dataset="digits", num_nodes=3, node_dim=2, epochs=1, batch_size=256, jit_compile=False,
            train_split="train@fit10%", test_split="train@val10%")  # fmt: skip


def _script():
    path = Path(__file__).parents[1] / "scripts" / "recipe_screen.py"
    spec = importlib.util.spec_from_file_location("recipe_screen", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _compare(config, out, rows=("independent", "full")):
    comparison.compare(config, out, seeds=(0,), structures=rows,
                       num_samples=10, eval_images=30, verbose=0, log=lambda _: None)  # fmt: skip


def test_a_setting_is_chosen_on_validation_runs_and_test_runs_are_refused(tmp_path, capsys):
    screen_script = _script()
    base = experiment.TrainConfig.from_flat(**TINY)
    folders = [str(tmp_path / f"warmup{w}") for w in (0, 1)]
    for w, folder in zip((0, 1), folders, strict=True):
        _compare(base.replace(kl_warmup_epochs=w), folder)
    screen = screen_script.read_screen(folders, "kl_warmup_epochs")
    assert set(screen) == {0, 1} and set(screen[0]) == {"independent", "full"}
    chosen, scores = screen_script.choose(screen)
    means = {w: sum(screen[w][r][0]["metrics"]["ll"] for r in screen[w]) / 2 for w in (0, 1)}
    assert scores == pytest.approx(means) and chosen == max(means, key=means.get)
    screen_script.main(["--setting=kl_warmup_epochs", *folders])
    out = capsys.readouterr().out
    assert "(chosen)" in out and out.strip().endswith(f"kl_warmup_epochs={chosen}")

    # A run whose record says another setting changed too is refused, and so is one scored
    # on a test split (records edited from a real one: the rule reads only the records).
    record = json.loads(RunFolder(Path(folders[0], "runs", "full-seed0")).eval_file.read_text())
    for name, change, error in (
        ("other", {"learning_rate": 3e-3}, "learning_rate"),
        ("tested", {"test_split": "test"}, "not a validation split"),
    ):
        edited = {**record, "config": {**record["config"], **change}}
        run = RunFolder(tmp_path / name / "runs" / "full-seed0")
        run.path.mkdir(parents=True)
        run.eval_file.write_text(json.dumps(edited))
        with pytest.raises(ValueError, match=error):
            screen_script.read_screen([*folders, str(tmp_path / name)], "kl_warmup_epochs")


def test_several_settings_make_one_recipe(tmp_path, capsys):
    screen_script = _script()
    folders = []
    for k, (schedule, dropout) in enumerate((("constant", 0.0), ("exponential", 0.0),
                                             ("exponential", 0.1))):  # fmt: skip
        for row, ll in (("full", -87.0 + k), ("independent", -89.0 + k / 2)):
            config = experiment.TrainConfig.from_flat(
                **TINY, learning_rate_schedule=schedule, dropout=dropout
            ).to_json()
            run = RunFolder(tmp_path / f"recipe{k}" / "runs" / f"{row}-seed0")
            run.path.mkdir(parents=True)
            run.eval_file.write_text(json.dumps({**_record(ll), "config": config}))
        folders.append(str(tmp_path / f"recipe{k}"))
    screen = screen_script.read_screen(folders, "learning_rate_schedule,dropout")
    assert set(screen) == {("constant", 0.0), ("exponential", 0.0), ("exponential", 0.1)}
    assert screen_script.choose(screen)[0] == ("exponential", 0.1)
    with pytest.raises(ValueError, match="dropout"):  # a setting left out of the list changed
        screen_script.read_screen(folders, "learning_rate_schedule")
    with pytest.raises(ValueError, match="'drop'"):
        screen_script.read_screen(folders, "learning_rate_schedule,drop")
    screen_script.main(["--setting=learning_rate_schedule,dropout", *folders])
    out = capsys.readouterr().out
    assert out.strip().endswith("learning_rate_schedule,dropout=('exponential', 0.1)")


def _record(ll, seed=0):
    return {"metrics": {"ll": ll}, "config": {"seed": seed}, "ll_per_image": [ll]}


def test_a_value_without_every_row_is_not_scored():
    record = _record
    screen = {5: {"full": [record(-87.3)], "independent": [record(-89.6)]},
              2: {"independent": [record(-80.0)]}}  # fmt: skip
    chosen, scores = _script().choose(screen)
    assert chosen == 5 and scores[2] is None
    assert "not every row: not scored" in _script().markdown(screen, "w", chosen, scores)
    with pytest.raises(ValueError, match="every row"):
        _script().choose({2: {"independent": [record(-80.0)]}, 5: {"full": [record(-87.3)]}})
