"""Data-parallel training: MirroredStrategy equals one device; the coordination service.

A real two-worker run on localhost, killed and resumed: `test_worker_faults.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tf_graphvae.trainers import distribute

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent


def test_mirrored_step_equals_the_single_device_step():
    structures = ["learned", "chain"]  # one process: logical devices are set before TF runs
    result = subprocess.run(
        [sys.executable, str(HERE / "scripts" / "mirrored_step.py"), *structures],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reports = [json.loads(line) for line in result.stdout.strip().splitlines()[-2:]]
    assert [r["structure"] for r in reports] == structures
    for report in reports:
        assert report["replicas"] == 2
        for key in ("loss", "elbo", "kl", "recon"):
            assert report["mirrored"][key][0] == pytest.approx(report["single"][key][0], rel=1e-5)
        assert report["max_update"] > 1e-3  # the step did change the weights
        assert report["max_weight_diff"] < 1e-5


def test_the_multi_worker_coordination_service_waits_a_minute_for_heartbeats():
    """The configuration the strategy would make, with `HEARTBEAT_TIMEOUT_S` (its own
    process: a context's coordination service is configured once)."""
    script = (
        "import json, os\n"
        "from tensorflow.python.eager import context\n"
        "from tf_graphvae.trainers import distribute\n"
        "distribute._configure_coordination(json.loads(os.environ['TF_CONFIG']))\n"
        "c = context.context().coordination_service\n"
        "tasks = [j.num_tasks for j in c.coordinated_job_list]\n"
        "print(c.heartbeat_timeout_in_ms, c.service_leader, tasks)\n"
    )
    env = dict(os.environ, TF_CONFIG=json.dumps(
        {"cluster": {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2", "127.0.0.1:3"]},
         "task": {"type": "worker", "index": 1}}))  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    timeout, leader, tasks = proc.stdout.split(maxsplit=2)
    assert int(timeout) == distribute.HEARTBEAT_TIMEOUT_S * 1000
    assert leader == "/job:chief/replica:0/task:0" and tasks.strip() == "[1, 2]"


def test_strategy_names_and_chief():
    with pytest.raises(ValueError, match="strategy"):
        distribute.make_strategy("tpu")
    env = os.environ.pop("TF_CONFIG", None)
    try:
        with pytest.raises(ValueError, match="TF_CONFIG"):
            distribute.make_strategy("multi_worker")
        assert distribute.is_chief()
        cluster = {"worker": ["a:1", "b:2"]}
        os.environ["TF_CONFIG"] = json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": 1}}
        )
        assert not distribute.is_chief() and distribute.worker_id() == 1
        os.environ["TF_CONFIG"] = json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": 0}}
        )
        assert distribute.is_chief()
    finally:
        os.environ.pop("TF_CONFIG", None)
        if env is not None:
            os.environ["TF_CONFIG"] = env
