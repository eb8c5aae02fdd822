"""Runs that survive their users: one process per model_dir, an unreadable latest
checkpoint, a full disk."""

from __future__ import annotations

import dataclasses
import errno
import json
import signal
import subprocess
import sys

import keras
import pytest
from conftest import run_command

from tf_graphvae.config.files import RunLocked, run_lock
from tf_graphvae.trainers import experiment

TINY = experiment.TrainConfig.from_flat(
    dataset="digits", num_nodes=3, node_dim=2, epochs=2, batch_size=256, jit_compile=False
)
HOLD_LOCK = (
    "import sys, time; from tf_graphvae.config.files import run_lock\n"
    "with run_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)\n"
)


def test_a_second_process_on_the_same_model_dir_is_refused(tmp_path):
    model_dir = tmp_path / "run"
    with run_lock(model_dir):
        result = run_command(
            "tfgvae-train", "--dataset=digits", "--epochs=1", f"--model_dir={model_dir}",
            timeout=120,
        )  # fmt: skip
        with pytest.raises(RunLocked, match="in use"):
            with run_lock(model_dir):
                pass
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "in use" in result.stderr
    assert sorted(p.name for p in model_dir.iterdir()) == [".lock"]  # nothing else written


def test_a_killed_holder_does_not_leave_the_lock_stuck(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(RunLocked):
        with run_lock(tmp_path / "run"):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with run_lock(tmp_path / "run"):  # the kernel released it with the process
        pass


def test_an_unreadable_latest_checkpoint_falls_back_to_the_previous(tmp_path, capsys):
    run = tmp_path / "run"
    experiment.train(TINY, run, verbose=0, tensorboard=False)
    metadata = json.loads((run / "checkpoint" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 2 and metadata["previous"]["epoch"] == 1
    latest = run / "checkpoint" / metadata["weights"]
    latest.write_bytes(latest.read_bytes()[:1000])  # truncated, as by a full disk
    capsys.readouterr()
    result = experiment.train(
        dataclasses.replace(TINY, epochs=3), run, verbose=0, tensorboard=False
    )
    out = capsys.readouterr().out
    assert "unreadable" in out and "Falling back" in out
    assert f"Resuming {run} from epoch 1 of 3" in out
    assert len(result.history["loss"]) == 3


def test_a_full_disk_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    run = tmp_path / "run"
    experiment.train(dataclasses.replace(TINY, epochs=1), run, verbose=0, tensorboard=False)
    before = {p.name: p.read_bytes() for p in (run / "checkpoint").iterdir()}
    original = keras.Model.save_weights

    def full_disk(self, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"\0" * 100)  # a partial write, then the device is full
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(keras.Model, "save_weights", full_disk)
    with pytest.raises(OSError) as caught:
        experiment.train(dataclasses.replace(TINY, epochs=2), run, verbose=0, tensorboard=False)
    assert caught.value.errno == errno.ENOSPC
    after = {p.name: p.read_bytes() for p in (run / "checkpoint").iterdir()}
    assert after == before  # no temporary file left, the committed checkpoint untouched
    monkeypatch.setattr(keras.Model, "save_weights", original)
    resumed = experiment.train(
        dataclasses.replace(TINY, epochs=2), run, verbose=0, tensorboard=False
    )
    assert len(resumed.history["loss"]) == 2


def test_the_commands_report_a_full_disk_in_one_line(tmp_path):
    script = (
        "import errno, sys\n"
        "sys.argv = ['tfgvae-x']  # as a console script: TensorFlow imported by run_main\n"
        "from tf_graphvae.trainers.cli._common import run_main\n"
        "def main(argv):\n"
        "    raise OSError(errno.ENOSPC, 'No space left on device', 'runs/x/model.keras')\n"
        "run_main(main)\n"
    )
    command = [sys.executable, "-c", script]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "no space left" in result.stderr and "runs/x/model.keras" in result.stderr
