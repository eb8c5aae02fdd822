"""Data-parallel training with TensorFlow's own strategies (one host, or several hosts).

    strategy = make_strategy("mirrored")          # every local GPU (or CPU when none)
    with strategy.scope():                        # model, optimizer and metrics
        model = tgv.GraphVAE(...); model.compile(...)
    model.fit(dataset_of_global_batches, ...)

`GraphVAE.train_step` is replica-aware: each replica's loss is divided by the number of
replicas (gradients are summed across replicas), each replica draws its own rows of the
global batch's gates, latents and binarisation, and the metrics are Keras metrics that
the strategy aggregates once.
"""

from __future__ import annotations

import json
import os
import re

import tensorflow as tf

from tf_graphvae.config import STRATEGIES

# How long the coordination service waits for a worker's heartbeat before it aborts the
# job. TensorFlow's default, 10 s, was exceeded on a busy 2-core host while a worker
# compiled its step with XLA, and the whole job failed; a crashed worker is now noticed
# after a minute instead (`--heartbeat_timeout` sets it).
HEARTBEAT_TIMEOUT_S = 60

# The exit status of a worker whose job lost another worker: EX_TEMPFAIL of sysexits.h,
# "a temporary failure: retry", which is what a cluster manager should do.
WORKER_LOST_EXIT = 75

# How TensorFlow's errors name a task: /job:worker/replica:0/task:1.
_TASK_RE = re.compile(r"/job:(?P<job>\w+)/replica:\d+/task:(?P<index>\d+)")


def make_strategy(
    name: str = "default",
    devices: list[str] | None = None,
    heartbeat_timeout_s: int = HEARTBEAT_TIMEOUT_S,
) -> tf.distribute.Strategy:
    """The `tf.distribute` strategy called `name`.

    Args:
        name: `"default"` (no distribution), `"mirrored"` (all local GPUs, or `devices`)
            or `"multi_worker"` (`MultiWorkerMirroredStrategy`; the cluster comes from the
            `TF_CONFIG` environment variable of every worker). Create it at the start of
            the program, before other TensorFlow work.
        devices: for `"mirrored"`, the devices to use (e.g. two logical CPUs in tests).
        heartbeat_timeout_s: for `"multi_worker"`, how long a worker may go silent before
            the job is aborted: the time survivors take to notice a dead worker.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; expected one of {STRATEGIES}.")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "--strategy=multi_worker needs the TF_CONFIG environment variable "
                '(e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
                '"task": {"type": "worker", "index": 0}}).'
            )
        if isinstance(heartbeat_timeout_s, bool) or int(heartbeat_timeout_s) < 1:
            raise ValueError(f"The heartbeat timeout must be >= 1 s, got {heartbeat_timeout_s!r}.")
        _configure_coordination(json.loads(os.environ["TF_CONFIG"]), int(heartbeat_timeout_s))
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _configure_coordination(tf_config: dict, heartbeat_timeout_s: int = HEARTBEAT_TIMEOUT_S):
    """The coordination service `MultiWorkerMirroredStrategy` starts, as it configures it
    (leader: the chief, else worker 0), with its heartbeat timeout: the strategy keeps a
    configuration made before it."""
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context

    cluster = tf_config.get("cluster", {})
    jobs = [job for job in ("chief", "worker") if job in cluster]
    task_type = tf_config.get("task", {}).get("type")
    if task_type not in jobs or context.context().coordination_service is not None:
        return
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=f"/job:{jobs[0]}/replica:0/task:0",
        coordinated_jobs=[
            coordination_config_pb2.CoordinatedJob(name=job, num_tasks=len(cluster[job]))
            for job in jobs
        ],
        heartbeat_timeout_in_ms=heartbeat_timeout_s * 1000,
    )


def is_chief() -> bool:
    """Whether this process writes results: worker 0 (or a chief) of TF_CONFIG, or no cluster."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = config.get("task", {})
    if not task:
        return True
    return task.get("type") == "chief" or (
        task.get("type") == "worker"
        and int(task.get("index", 0)) == 0
        and "chief" not in config.get("cluster", {})
    )


def worker_id() -> int:
    """This worker's index in TF_CONFIG (0 without a cluster)."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    return int(config.get("task", {}).get("index", 0))


def is_worker_lost(error: BaseException) -> bool:
    """Whether `error` is how a multi-worker job reports another worker's death: a
    collective aborted or a peer (or the coordination service) unreachable."""
    return isinstance(error, tf.errors.OpError) and not isinstance(
        error, (tf.errors.InvalidArgumentError, tf.errors.ResourceExhaustedError)
    )


def worker_lost_message(error: BaseException, saved_epoch: int, epochs: int) -> str:
    """One line for a survivor: which task stopped (as the error names it), and how to
    resume (every worker re-runs its command; training resumes after `saved_epoch`, the
    last epoch this worker checkpointed)."""
    own = (_own_task(), worker_id())
    named = [(m["job"], int(m["index"])) for m in _TASK_RE.finditer(str(error))]
    others = sorted({task for task in named if task != own})
    who = " and ".join(f"{job} {index}" for job, index in others) or "another worker"
    where = (
        f"epoch {saved_epoch} of {epochs}"
        if saved_epoch
        else f"the start (no epoch of {epochs} was saved)"
    )
    return (
        f"the multi-worker job lost {who} ({type(error).__name__}); re-run the same command "
        f"on every worker to resume from {where}."
    )


def _own_task() -> str:
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    return str(config.get("task", {}).get("type", "worker"))
