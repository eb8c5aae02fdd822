"""Guarantees: resume after kill -9, non-finite losses, atomic files, safe loading, bounded
serving."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import BIN, run_command, tiny_model

from tf_graphvae.trainers import experiment
from tf_graphvae.trainers.callbacks import NonFiniteLossError

TRAIN = [
    str(BIN / "tfgvae-train"),
    "--dataset=digits",
    "--num_nodes=3",
    "--node_dim=2",
    "--batch_size=64",
    "--epochs=6",
    "--nojit_compile",  # short runs: compiling would take most of their time
]
STEPS_PER_EPOCH = -(-1437 // 64)


def _entries(path: Path) -> int:
    try:
        return len(json.loads(path.read_text())["edge_probabilities"])
    except (OSError, ValueError, KeyError):
        return 0


def _checkpointed(metadata: Path) -> int:
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def test_kill_9_mid_epoch_then_rerun_resumes(tmp_path):
    model_dir = tmp_path / "run"
    command = [*TRAIN, f"--model_dir={model_dir}"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    history = model_dir / "edge_probabilities.json"
    deadline = time.monotonic() + 240
    metadata = model_dir / "checkpoint" / "training_metadata.json"
    # Two epochs checkpointed (on a loaded machine the checkpoint lags the gate history).
    while (_entries(history) < 3 or _checkpointed(metadata) < 2) and (
        time.monotonic() < deadline and proc.poll() is None
    ):
        time.sleep(0.05)
    assert _checkpointed(metadata) >= 2, "two epochs did not finish in time"
    time.sleep(0.3)  # into the next epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (model_dir / "model.keras").exists()
    before = json.loads(history.read_text())["edge_probabilities"]
    # The last committed checkpoint; the gate history may be one epoch ahead of it when
    # the kill fell between the two writes (the resumed run then rewrites that entry).
    done = _checkpointed(metadata)
    assert 2 <= done < 6 and len(before) - 1 in (done, done + 1)

    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    epochs_run = [line for line in result.stdout.splitlines() if line.startswith("Epoch ")]
    assert epochs_run[0] == f"Epoch {done + 1}/6" and len(epochs_run) == 6 - done
    saved = json.loads((model_dir / "history.json").read_text())
    assert len(saved["history"]["loss"]) == 6
    assert set(saved) == {"history", "test", "early_stopping", "train_seconds_last_session"}
    mus = json.loads(history.read_text())["edge_probabilities"]  # the gates: their own file
    assert len(mus) == 7  # before training + one per epoch: no gap, no duplicate
    assert mus[: done + 1] == before[: done + 1]
    model = keras.saving.load_model(model_dir / "model.keras")
    assert int(model.optimizer.iterations.numpy()) == 6 * STEPS_PER_EPOCH  # = uninterrupted


class _PoisonWeights(keras.callbacks.Callback):
    """Writes NaN into a kernel before the given optimizer step."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_begin(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            kernel = self.model.decoder.dense[0].kernel
            kernel.assign(np.full(kernel.shape, np.nan, np.float32))


def test_non_finite_loss_stops_with_the_step_and_keeps_the_last_checkpoint(tmp_path):
    config = experiment.TrainConfig.from_flat(
        dataset="digits", num_nodes=3, node_dim=2, batch_size=64, epochs=4, jit_compile=False,
        steps_per_execution=1,  # the fault is injected before one exact step
    )  # fmt: skip
    poison_step = STEPS_PER_EPOCH + 5  # inside epoch 2
    with pytest.raises(NonFiniteLossError, match=rf"step {poison_step + 1}\b.*epoch 2"):
        experiment.train(config, tmp_path, callbacks=[_PoisonWeights(poison_step)], verbose=0)
    metadata = json.loads((tmp_path / "checkpoint" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 1
    model = experiment.build_model(config)
    model.optimizer.build(model.trainable_variables)
    model.load_weights(tmp_path / "checkpoint" / metadata["weights"])
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    # The same run without the fault resumes from that checkpoint and finishes.
    result = experiment.train(config, tmp_path, verbose=0)
    assert len(result.history["loss"]) == 4


_WRITER = """
import sys
from tf_graphvae.config.files import write_json
big = list(range(300_000))
for k in range(10**9):
    write_json(sys.argv[1], {"k": k % 2, "payload": big})
"""


def test_a_killed_writer_leaves_a_complete_file(tmp_path):
    target = tmp_path / "result.json"
    for delay in (0.4, 0.7, 1.0, 1.3):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)])
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if target.exists():
            content = json.loads(target.read_text())  # complete, never truncated
            assert content["k"] in (0, 1) and len(content["payload"]) == 300_000
    assert not [p for p in tmp_path.iterdir() if p.name != "result.json"] or all(
        p.name.startswith(".result.") for p in tmp_path.iterdir() if p.name != "result.json"
    )


def _set_saved_config(path: Path, key: str, value):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    config["config"][key] = value
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_a_model_from_an_incompatible_version_is_refused(tmp_path):
    model = tiny_model()
    path = tmp_path / "run" / "model.keras"
    path.parent.mkdir()
    model.save(path)
    _set_saved_config(path, "format_version", "99.0")
    with pytest.raises(ValueError, match="format 99.0"):
        keras.saving.load_model(path)
    result = run_command("tfgvae-evaluate", f"--model_dir={path.parent}", timeout=120)
    assert result.returncode == 2 and "format 99.0" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (path.parent / "evaluation.json").exists()


def test_loading_never_runs_code_from_the_file(tmp_path):
    marker = tmp_path / "executed"
    hostile = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Lambda(lambda x, m=str(marker): (open(m, "w").close(), x)[1]),
        ]
    )
    run = tmp_path / "run"
    run.mkdir()
    hostile.save(run / "model.keras")
    marker.unlink(missing_ok=True)
    result = run_command("tfgvae-evaluate", f"--model_dir={run}", timeout=120)
    assert result.returncode == 2
    assert "safe_mode" in result.stderr
    assert not marker.exists()


def test_a_burst_of_requests_to_the_served_sampler_keeps_memory_flat(tmp_path):
    import tensorflow as tf

    import tf_graphvae as tgv

    path = tgv.export_sampler(tiny_model(), tmp_path / "export")
    served = tf.saved_model.load(str(path))
    sample = served.signatures["serving_default"]

    def rss_mib():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    for k in range(100):
        sample(num_samples=tf.constant(4, tf.int64), seed=tf.constant(k, tf.int64))
    warm = rss_mib()
    for k in range(1000):
        out = sample(num_samples=tf.constant(4, tf.int64), seed=tf.constant(k, tf.int64))
    assert out["samples"].shape == (4, 8, 8, 1)
    growth = rss_mib() - warm
    assert growth < 25, f"resident memory grew by {growth:.1f} MiB over 1,000 requests"
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_samples"):
        sample(num_samples=tf.constant(0, tf.int64), seed=tf.constant(0, tf.int64))
    images = np.full((1, 8, 8, 1), np.nan, np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError):
        served.signatures["log_likelihood"](images=tf.constant(images))


def test_a_non_finite_loss_inside_a_multi_step_call_names_the_steps_it_may_be_in():
    import types

    from tf_graphvae.trainers.callbacks import StopOnNonFiniteLoss

    callback = StopOnNonFiniteLoss()
    optimizer = types.SimpleNamespace(iterations=types.SimpleNamespace(numpy=lambda: 50))
    callback.set_model(types.SimpleNamespace(optimizer=optimizer, steps_per_execution=25))
    with pytest.raises(NonFiniteLossError, match=r"optimizer steps 26\.\.50 \(epoch 1, batch 2\)"):
        callback.on_train_batch_end(1, {"loss": float("nan")})
