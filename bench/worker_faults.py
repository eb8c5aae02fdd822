"""What a worker's death costs a two-worker job on localhost, and what a checkpoint costs.

python bench/worker_faults.py [--heartbeat_timeout=10] [--output_dir=bench/results]

For each victim (worker 1, then the chief), both workers start `tfgvae-train
--strategy=multi_worker` on the digits (3 epochs of 90 steps); the victim is killed with
SIGKILL half a second into the chief's second epoch, and the survivor's stop time (kill to
exit), exit status and stderr are recorded. Then the default MNIST model's weights and
optimizer state are saved 5 times (`save_weights`, as each epoch's checkpoint is), to set
the checkpoint's cost against an epoch's. Writes `worker_faults.json` and `.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
EPOCHS = 3


def free_workers(n: int = 2) -> list[str]:
    """`n` localhost addresses with ports free now."""
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return [f"127.0.0.1:{port}" for port in ports]


def start_workers(workers: list[str], model_dir: Path, heartbeat_s: int) -> list[subprocess.Popen]:
    """Every worker of the job with the same command, as a cluster manager starts them."""
    procs = []
    for index in range(len(workers)):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CONFIG=json.dumps(tf_config))
        command = [
            str(BIN / "tfgvae-train"), "--strategy=multi_worker", "--dataset=digits",
            f"--epochs={EPOCHS}", "--num_nodes=3", "--node_dim=2", "--batch_size=16",
            f"--heartbeat_timeout={heartbeat_s}", f"--model_dir={model_dir}",
        ]  # fmt: skip
        procs.append(
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )  # fmt: skip
        )
    return procs


def kill_in_epoch_two(procs: list[subprocess.Popen], victim: int) -> float:
    """SIGKILL `victim` half a second into the chief's second epoch; the kill's time."""
    for line in procs[0].stdout:
        if line.startswith("Epoch 2/"):
            time.sleep(0.5)
            procs[victim].kill()
            return time.monotonic()
    raise RuntimeError("the chief ended before its second epoch")


def kill_one(victim: int, heartbeat_s: int, workers: list[str], model_dir: Path) -> dict:
    """Starts the job in `model_dir`, kills `victim` in epoch 2 and waits for the survivor:
    its stop time (kill to exit), exit status and stderr."""
    procs = start_workers(workers, model_dir, heartbeat_s)
    try:
        killed_at = kill_in_epoch_two(procs, victim)
        survivor = procs[1 - victim]
        _, err = survivor.communicate(timeout=heartbeat_s + 120)
        stop_s = time.monotonic() - killed_at
    finally:
        for proc in procs:
            proc.kill()
            proc.communicate()
    return {"victim": victim, "survivor_stop_s": round(stop_s, 2),
            "exit_status": survivor.returncode, "stderr": err.strip()}  # fmt: skip


def one_death(victim: int, heartbeat_s: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        return kill_one(victim, heartbeat_s, free_workers(), Path(folder) / "run")


def checkpoint_seconds(saves: int = 5) -> dict:
    from tf_graphvae.config import TrainConfig
    from tf_graphvae.trainers.experiment import build_model

    model = build_model(TrainConfig.from_flat(dataset="mnist"))
    model.optimizer.build(model.trainable_variables)
    times = []
    with tempfile.TemporaryDirectory() as folder:
        for k in range(saves):
            path = Path(folder) / f"epoch-{k}.weights.h5"
            start = time.perf_counter()
            model.save_weights(path)
            times.append(round(time.perf_counter() - start, 3))
        megabytes = round(path.stat().st_size / 1e6, 1)
    return {"save_seconds": times, "megabytes": megabytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heartbeat_timeout", type=int, default=10)
    parser.add_argument("--output_dir", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    deaths = [one_death(victim, args.heartbeat_timeout) for victim in (1, 0)]
    record = {"heartbeat_timeout_s": args.heartbeat_timeout, "deaths": deaths,
              "checkpoint": checkpoint_seconds(), "load_at_start": os.getloadavg()[0]}  # fmt: skip
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "worker_faults.json").write_text(json.dumps(record, indent=1) + "\n")
    lines = [f"# Worker faults (heartbeat timeout {args.heartbeat_timeout} s)", "",
             "| killed | survivor stops after (s) | exit status | survivor's stderr |",
             "|---|---|---|---|"]  # fmt: skip
    for d in deaths:
        who = "worker 1" if d["victim"] else "chief (worker 0)"
        lines.append(f"| {who} | {d['survivor_stop_s']} | {d['exit_status']} | {d['stderr']} |")
    c = record["checkpoint"]
    lines += ["", f"Checkpoint of the default MNIST model ({c['megabytes']} MB): "
              f"{', '.join(str(t) for t in c['save_seconds'])} s per save."]  # fmt: skip
    (out / "worker_faults.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
