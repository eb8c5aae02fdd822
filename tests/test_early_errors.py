"""Errors that need no TensorFlow come before it: each command's folder and data checks run
with an importable `tensorflow` that fails on import, so reaching TensorFlow would show."""

from __future__ import annotations

import fcntl
import os
import subprocess

import pytest
from conftest import BIN

POISON = "raise SystemExit('tensorflow was imported before the check')\n"


@pytest.fixture
def no_tensorflow(tmp_path):
    """An environment in which `import tensorflow` (and keras) ends the process."""
    poison = tmp_path / "poison"
    poison.mkdir()
    for name in ("tensorflow", "keras"):
        (poison / f"{name}.py").write_text(POISON)
    return {**os.environ, "PYTHONPATH": str(poison)}


def _run(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True,
                          env=env, timeout=60)  # fmt: skip


def _error(result) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = result.stderr.strip().splitlines()
    return line


def test_evaluate_and_export_refuse_a_folder_without_a_model(no_tensorflow, tmp_path):
    missing = tmp_path / "nonexistent"
    for command in ("tfgvae-evaluate", "tfgvae-export"):
        args = [command, f"--model_dir={missing}", f"--export_base={tmp_path / 'exports'}"]
        if command == "tfgvae-evaluate":
            args = args[:2]
        assert _error(_run(no_tensorflow, *args)) == (
            f"{command}: error: {missing} holds no model (model.keras); train one first."
        )
    assert not (tmp_path / "exports").exists()


def test_a_busy_run_folder_is_refused_before_tensorflow(no_tensorflow, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(b"PK")
    with open(run / ".lock", "a+") as handle:  # a training holds the run
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.truncate(0)
        handle.write("4242")
        handle.flush()
        evaluate = _error(_run(no_tensorflow, "tfgvae-evaluate", f"--model_dir={run}"))
        train = _error(_run(no_tensorflow, "tfgvae-train", "--dataset=digits",
                            f"--model_dir={run}"))  # fmt: skip
    assert evaluate == (f"tfgvae-evaluate: error: {run} is in use by a running training "
                        "(pid 4242); use it when the training has ended.")  # fmt: skip
    assert train == (f"tfgvae-train: error: {run} is in use by a running training (pid 4242); "
                     "wait for it to end or use another --model_dir.")  # fmt: skip


def test_a_missing_data_folder_is_refused_before_tensorflow(no_tensorflow, tmp_path):
    missing = tmp_path / "no_data"
    result = _run(no_tensorflow, "tfgvae-train", "--dataset=mnist", f"--data_dir={missing}",
                  f"--model_dir={tmp_path / 'run'}")  # fmt: skip
    assert _error(result) == (
        f"tfgvae-train: error: data_dir {str(missing)!r} does not exist or is not a directory."
    )
    assert not (tmp_path / "run").exists()
