"""Multi-worker faults on localhost: a worker's or the chief's death (kill -9 mid-epoch)
ends the survivor with one line and exit status 75; the same commands resume the job."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import tensorflow as tf

from tf_graphvae.trainers import distribute

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from worker_faults import EPOCHS, free_workers, kill_one, start_workers  # noqa: E402

HEARTBEAT_S = 10


# The chief's death is checked up to the survivor's line; the resume after it is the same
# code path as after a worker's death (every process restarts from the chief's checkpoint),
# checked once.
@pytest.mark.parametrize(
    "victim, survivor_stops_within_s, resume", [(1, HEARTBEAT_S + 20, True), (0, 20, False)]
)
def test_a_death_ends_the_survivor_with_one_line_and_after_a_worker_s_the_job_resumes(
    tmp_path, victim, survivor_stops_within_s, resume
):
    workers, model_dir = free_workers(), tmp_path / "run"
    death = kill_one(victim, HEARTBEAT_S, workers, model_dir)
    err = death["stderr"]
    # The survivor: exit 75, one line naming the dead worker and the restart, no traceback.
    assert death["exit_status"] == distribute.WORKER_LOST_EXIT, err[-3000:]
    lines = err.splitlines()
    assert len(lines) == 1, err[-3000:]
    assert lines[0].startswith(f"tfgvae-train: error: the multi-worker job lost worker {victim} ")
    assert (
        f"re-run the same command on every worker to resume from epoch 1 of {EPOCHS}." in (lines[0])
    )
    assert death["survivor_stop_s"] < survivor_stops_within_s
    if not resume:
        return

    # The same commands again: the job resumes after epoch 1 and completes.
    procs = start_workers(workers, model_dir, HEARTBEAT_S)
    outputs = [proc.communicate(timeout=420) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    assert f"Resuming {model_dir} from epoch 1 of {EPOCHS}" in outputs[0][0]
    history = json.loads((model_dir / "history.json").read_text())
    assert len(history["history"]["loss"]) == EPOCHS
    # The model files are the chief's alone: worker 1's folder is gone.
    assert (model_dir / "model.keras").is_file() and not (model_dir / ".worker-1").exists()
    assert "Saved" in outputs[0][0] and "Saved" not in outputs[1][0]


def test_the_lost_worker_message_names_the_other_task_and_the_saved_epoch(monkeypatch):
    tf_config = {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    error = tf.errors.UnavailableError(
        None, None, "Collective ops is aborted by: The following tasks are unhealthy "
        "(stopped sending heartbeats):\n/job:worker/replica:0/task:1\n/job:worker/replica:0/task:0",
    )  # fmt: skip
    assert distribute.is_worker_lost(error)
    assert distribute.worker_lost_message(error, 4, 10) == (
        "the multi-worker job lost worker 1 (UnavailableError); re-run the same command on "
        "every worker to resume from epoch 4 of 10."
    )
    assert "another worker" in distribute.worker_lost_message(tf.errors.AbortedError(
        None, None, "aborted"), 0, 3)  # fmt: skip
    assert not distribute.is_worker_lost(ValueError("bad flag"))
    assert not distribute.is_worker_lost(tf.errors.InvalidArgumentError(None, None, "shape"))
