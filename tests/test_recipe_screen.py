"""scripts/recipe_screen.py: one setting chosen on validation runs, the same rule for every row."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tf_graphvae.trainers import comparison, experiment

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

    other = tmp_path / "other"  # another setting changed too: not a screen of one setting
    _compare(base.replace(kl_warmup_epochs=2, learning_rate=3e-3), other, ("full",))
    with pytest.raises(ValueError, match="learning_rate"):
        screen_script.read_screen([*folders, str(other)], "kl_warmup_epochs")
    tested = tmp_path / "tested"
    _compare(base.replace(test_split="test"), tested, ("full",))
    with pytest.raises(ValueError, match="not a validation split"):
        screen_script.read_screen([str(tested)], "kl_warmup_epochs")


def test_a_value_without_every_row_is_not_scored():
    record = lambda ll, seed=0: {"metrics": {"ll": ll}, "config": {"seed": seed},  # noqa: E731
                                 "ll_per_image": [ll]}  # fmt: skip
    screen = {5: {"full": [record(-87.3)], "independent": [record(-89.6)]},
              2: {"independent": [record(-80.0)]}}  # fmt: skip
    chosen, scores = _script().choose(screen)
    assert chosen == 5 and scores[2] is None
    assert "not every row: not scored" in _script().markdown(screen, "w", chosen, scores)
    with pytest.raises(ValueError, match="every row"):
        _script().choose({2: {"independent": [record(-80.0)]}, 5: {"full": [record(-87.3)]}})
