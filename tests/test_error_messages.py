"""Errors that say what happened: each bad input is one line, exit status 2, nothing written."""

from __future__ import annotations

import fcntl
import shutil

import numpy as np
import pytest
from conftest import run_command

from tf_graphvae.trainers import experiment

TINY = dict(dataset="digits", num_nodes=2, node_dim=2, epochs=1, batch_size=256, jit_compile=False)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained") / "run"
    experiment.train(experiment.TrainConfig.from_flat(**TINY), folder, verbose=0, tensorboard=False)
    return folder


def _one_line(result, expected: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [expected]


def _evaluate(folder):
    return run_command("tfgvae-evaluate", f"--model_dir={folder}", "--num_importance_samples=2",
                       "--eval_images=2", timeout=120)  # fmt: skip


def test_evaluate_names_the_broken_file_and_the_running_training(run_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    model = broken / "model.keras"
    model.write_bytes(model.read_bytes()[:1000])  # truncated
    _one_line(_evaluate(broken), (
        f"tfgvae-evaluate: error: {model} is damaged (not a complete .keras archive); its run's "
        f"last checkpoint can rebuild it: run tfgvae-train with --model_dir={broken} and the "
        "run's flags."
    ))  # fmt: skip
    (broken / "config.json").write_text('{"dataset": "digits",\n')
    result = _evaluate(broken)
    assert result.returncode == 2 and result.stderr.startswith(
        f"tfgvae-evaluate: error: {broken / 'config.json'} is not a valid run configuration"
    )
    with open(run_dir / ".lock", "a+") as handle:  # a training holds the run
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.truncate(0)
        handle.write("4242")
        handle.flush()
        _one_line(_evaluate(run_dir), (
            f"tfgvae-evaluate: error: {run_dir} is in use by a running training (pid 4242); "
            "use it when the training has ended."
        ))  # fmt: skip
    assert not (run_dir / "evaluation.json").exists()


def test_npz_files_that_are_not_npz_or_hold_nan_are_named(tmp_path):
    text = tmp_path / "data.npz"
    text.write_text("x_train,x_test\n1,2\n")
    model_dir = tmp_path / "run"
    _one_line(
        run_command("tfgvae-train", f"--dataset=npz:{text}", f"--model_dir={model_dir}"),
        f"tfgvae-train: error: npz file {str(text)!r} is not an npz archive (np.savez writes "
        "one, with arrays x_train and x_test).",
    )
    nan = tmp_path / "nan.npz"
    x = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    x[3, 1] = x[7, 2] = np.nan
    np.savez(nan, x_train=x, x_test=x[:10])
    result = run_command("tfgvae-train", f"--dataset=npz:{nan}", f"--model_dir={model_dir}")
    assert result.returncode == 2
    assert "x_train: The array holds 2 NaN and 0 infinite values (of 200)" in result.stderr
    assert not model_dir.exists()


def test_a_test_split_of_another_shape_is_refused_before_training(tmp_path):
    data = tmp_path / "widths.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x_train=rng.normal(size=(40, 5)), x_test=rng.normal(size=(10, 4)))
    model_dir = tmp_path / "run"
    _one_line(
        run_command("tfgvae-train", f"--dataset=npz:{data}", f"--model_dir={model_dir}"),
        "tfgvae-train: error: The test split 'test' has examples of shape [4], the training "
        "split [5].",
    )
    assert not model_dir.exists()
