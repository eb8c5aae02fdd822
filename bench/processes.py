"""The measurements that run in child processes: evaluation memory, the pythae peer, the
wall clock of commands, and the `tfgvae-train` command's own training throughput.

Imported by `run.py` as a top-level module from this folder (see common.py). Children
that report numbers print one line `RESULT {json}` (`eval_memory.py`, `pythae_peer.py`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import BATCH_SIZE, epoch_summary, log, median

from tf_graphvae.config import RunFolder

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# The IDX image files `tfgvae-train` reads from a data_dir: training and test split.
FASHION_MNIST_FILES = ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")


def _result_line(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    return None


def start_memory_runs(images_path: Path, mode: dict) -> list:
    """Starts one `eval_memory.py` process per K (they run side by side: memory only)."""
    procs = []
    for k in mode["memory_samples"]:
        cmd = [
            sys.executable,
            str(BENCH_DIR / "eval_memory.py"),
            f"--num_samples={k}",
            f"--num_images={mode['memory_images']}",
            f"--images={images_path}",
        ]
        procs.append(
            (
                k,
                subprocess.Popen(
                    cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
                ),
            )
        )
    return procs


def finish_memory_runs(procs: list, timeout: float) -> dict:
    """The peak RSS of each `start_memory_runs` process, and large-K / small-K ratios."""
    runs = {}
    for k, proc in procs:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        parsed = _result_line(stdout)
        if parsed is None:
            runs[str(k)] = {"error": f"exit {proc.returncode}: {stderr.strip()[-500:]}"}
        else:
            runs[str(k)] = parsed
    keys = [str(k) for k, _ in procs]
    result = {
        "method": "fresh process per K; peak RSS (VmHWM, KiB) after log_likelihood",
        "runs": runs,
    }
    small, large = (runs.get(key, {}) for key in (keys[0], keys[-1]))
    if "peak_kib" in small and "peak_kib" in large:
        result["peak_ratio"] = large["peak_kib"] / small["peak_kib"]
        result["growth_ratio"] = large["growth_kib"] / max(1, small["growth_kib"])
    return result


def _pythae_run(train_path: Path, eval_path: Path, mode: dict, threads: int) -> dict:
    cmd = [
        sys.executable,
        str(BENCH_DIR / "pythae_peer.py"),
        f"--train={train_path}",
        f"--eval={eval_path}",
        f"--num_samples={mode['num_samples']}",
        f"--steps={mode['steps_per_epoch']}",
        f"--reps={mode['train_reps']}",
        f"--eval_reps={mode['eval_reps']}",
        f"--threads={threads}",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"status": "failed: timed out after 3600 s"}
    return _result_line(proc.stdout) or {
        "status": f"failed: exit {proc.returncode}: {proc.stderr.strip()[-500:]}"
    }


def run_pythae(train_path: Path, eval_path: Path, mode: dict) -> dict:
    """The peer's numbers with `torch.set_num_threads(os.cpu_count())`, and with 1 thread.

    PyTorch's OpenMP threads spin while they wait for each other: on a machine whose
    cores are busy with other work, one thread can be many times faster than all of
    them, so both are measured and reported.
    """
    missing = [m for m in ("torch", "pythae") if importlib.util.find_spec(m) is None]
    if missing:
        return {"status": f"not installed: pip install -e .[bench] (missing {', '.join(missing)})"}
    runs = {}
    for threads in dict.fromkeys([os.cpu_count() or 1, 1]):
        parsed = _pythae_run(train_path, eval_path, mode, threads)
        runs[str(threads)] = parsed
        log(f"pythae ({threads} threads): {parsed.get('status')}")
    primary = dict(runs[str(os.cpu_count() or 1)])
    primary["by_threads"] = runs
    ok = [r for r in runs.values() if r.get("status") == "ok"]
    if ok:
        primary["best_train_examples_per_s"] = max(r["train_examples_per_s"] for r in ok)
        primary["best_nll_samples_per_s"] = max(r["nll_samples_per_s"] for r in ok)
    return primary


def _shown(cmd: list[str], folder: Path, placeholder: str) -> str:
    """The command as recorded: the program's name, `folder` written as `placeholder`."""
    return " ".join([Path(cmd[0]).name, *cmd[1:]]).replace(str(folder), placeholder)


def wall_clock(cmd: list[str], timeout: float, cwd: Path) -> dict:
    """Seconds of one run of `cmd` in `cwd`, its exit status and last output line."""
    # The recorded command names programs and folders, not where this machine keeps them.
    shown = _shown(cmd, cwd, "<cwd>")
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        return {"command": shown, "status": f"timed out after {timeout:.0f} s"}
    seconds = time.perf_counter() - start
    lines = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
    return {
        "command": shown,
        "seconds": round(seconds, 1),
        "exit_code": proc.returncode,
        "last_line": lines[-1] if lines else "",
    }


def console_script(name: str) -> str:
    """The installed console script `name`: beside this Python first, else on PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def _has_idx_files(data_dir: Path) -> bool:
    return all(
        (data_dir / stem).exists() or (data_dir / f"{stem}.gz").exists()
        for stem in FASHION_MNIST_FILES
    )


def command_training(
    data_dir: Path, steps_per_epoch: int, reps: int, tmp: Path, timeout: float = 3600
) -> dict:
    """Training throughput of the `tfgvae-train` command, from its own `history.json`.

    The command with its defaults (structure learned, XLA, its `steps_per_execution`)
    trains on the first `steps_per_epoch * BATCH_SIZE` Fashion-MNIST training images (the
    images of the `model.fit` rows) for `reps + 2` epochs; the history's `epoch_seconds`
    (each epoch's wall time, measured inside the command) after the first two epochs
    (compile, warm-up) give examples/s over the median epoch and the spread max / min.
    """
    if not _has_idx_files(data_dir):
        return {"status": "not run: Fashion-MNIST files missing"}
    n = steps_per_epoch * BATCH_SIZE
    model_dir = tmp / "command"
    cmd = [
        console_script("tfgvae-train"),
        "--dataset=fashion_mnist",
        f"--data_dir={data_dir}",
        f"--train_split=train[:{n}]",
        f"--epochs={reps + 2}",
        f"--batch_size={BATCH_SIZE}",
        f"--model_dir={model_dir}",
    ]
    result = {"command": _shown(cmd, tmp, "<tmp>"), "examples_per_epoch": n, "epochs": reps + 2}
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp)
    except subprocess.TimeoutExpired:
        return result | {"status": f"failed: timed out after {timeout:.0f} s"}
    result["seconds"] = round(time.perf_counter() - start, 1)
    history_path = RunFolder(model_dir).history_file
    if proc.returncode != 0 or not history_path.exists():
        return result | {"status": f"failed: exit {proc.returncode}: {proc.stderr.strip()[-500:]}"}
    saved = json.loads(history_path.read_text())
    epoch_seconds = saved["history"].get("epoch_seconds", [])
    if len(epoch_seconds) < 3:
        return result | {"status": f"failed: {len(epoch_seconds)} epoch_seconds in history.json"}
    config = RunFolder(model_dir).read_config().flat()
    summary = epoch_summary(epoch_seconds, n)
    return result | {
        "status": "ok",
        "structure": config.get("structure"),
        "jit_compile": config.get("jit_compile"),
        "steps_per_execution": config.get("steps_per_execution"),
        "method": "median of the command's own epoch_seconds (history.json) after its "
        "first (compile) epoch and one warm-up epoch",
        "examples_per_s": summary.pop("examples_per_s"),
        "ms_per_step": 1000 * median(epoch_seconds[2:]) / (n // BATCH_SIZE),
        **summary,
    }
