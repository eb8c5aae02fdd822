"""Benchmarks of tf_graphvae: training and evaluation throughput, memory, a PyTorch peer.

python bench/run.py [--quick] [--output_dir=bench/results] [--with_pythae] [--with_suite]
                    [--device=gpu]

Writes `bench.json` (every number, with the settings that produced it) and `bench.md`
(tables ready to paste into the README) in `--output_dir`, atomically. Every timing is
the median of several repetitions after a warm-up; all ratios compare numbers measured
in the same run. `--quick` only checks that everything runs (tiny step counts, small K,
no peer, no quickstart or `tfgvae-train` run): its numbers are not benchmarks. See
bench/README.md.

This file holds the settings (`TARGETS`, `MODES`) and the order of the measurements;
they live beside it, imported as top-level modules from this folder (see common.py):
`training.py` (`model.fit`), `evaluation.py` (`log_likelihood`, matmul), `kernels.py`,
`processes.py` (memory, the peer, commands) and `report.py` (targets, `bench.md`).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import (
    BATCH_SIZE,
    DECODER_UNITS,
    ENCODER_UNITS,
    EVENT_SHAPE,
    FASHION_MNIST_DIR,
    MODEL_SEED,
    NODE_DIM,
    NUM_NODES,
    binarize,
    cpu_info,
    load_images,
    log,
)
from evaluation import bench_evaluation, bench_matmul, bench_paired
from kernels import bench_kernels
from processes import (
    command_training,
    console_script,
    finish_memory_runs,
    run_pythae,
    start_memory_runs,
    wall_clock,
)
from report import evaluate_targets, markdown, versions
from training import STRUCTURES, bench_training, best_learned

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent

# Targets: key -> (comparison, bound, what is compared).
TARGETS = {
    "learned_over_full_time": ("<=", 1.10, "training time/example, learned / full"),
    "learned_over_independent_time": ("<=", 1.5, "training time/example, learned / independent"),
    "eval_flops_over_matmul": (
        ">=",
        0.7,
        "evaluation FLOP rate / dense matmul rate (timed in alternation, median round)",
    ),
    "epoch_time_spread": (
        "<=",
        1.3,
        "epoch time max / min, worst model.fit row (steady state, >= 8 epochs)",
    ),
    "memory_peak_ratio": ("<=", 1.2, "peak RSS of evaluation, K large / K small"),
    "train_tgv_over_pythae": (
        ">=",
        1.5,
        "training examples/s, tgv independent (faster of the steps_per_execution runs) / pythae",
    ),
    "eval_tgv_over_pythae": (">=", 2.0, "LL importance samples/s, tgv learned / pythae"),
    "train_tgv_over_pythae_best": (
        ">=",
        1.5,
        "training examples/s, tgv independent (faster run) / pythae at its best thread count",
    ),
    "eval_tgv_over_pythae_best": (
        ">=",
        2.0,
        "LL importance samples/s, tgv learned / pythae at its best thread count",
    ),
    "test_suite_minutes": ("<=", 7.0, "test suite minutes, `pytest -q -n 2` (--with_suite)"),
}

MODES = {
    "full": dict(
        # 200 steps (25,600 examples, 2-3 s): an epoch long enough that a sub-second stall
        # of a shared machine does not decide its time (an MNIST epoch is 469 steps).
        steps_per_epoch=200,
        train_reps=8,
        num_samples=5000,
        eval_images=20,
        eval_reps=3,
        end_to_end_reps=3,
        xla_structures=STRUCTURES,
        # Extra runs of these structures with Keras's steps_per_execution (one call of
        # the compiled loop runs that many steps; the per-step Python work is amortised).
        steps_per_execution=25,
        eval_independent=True,
        sweep=[
            (1000, None),
            (2000, None),
            (5000, None),
            (10000, None),
            (20000, None),
            (5000, 5),
            (5000, 10),
        ],
        memory_samples=(500, 5000),
        memory_images=10,
        matmul_reps=5,
        matmul_min_seconds=0.2,
        paired_rounds=9,
        kernel_reps=9,
    ),
    "quick": dict(
        steps_per_epoch=2,
        train_reps=2,
        num_samples=500,
        eval_images=4,
        eval_reps=2,
        end_to_end_reps=1,
        # Only the package's default chunk (each chunk shape is one more XLA compilation).
        sweep=[],
        # XLA compilation of a train step takes 5-15 s on a busy 2-core machine: quick mode
        # compiles only the learned structure's (the others run without XLA).
        xla_structures=("learned",),
        steps_per_execution=None,
        eval_independent=False,
        memory_samples=(50, 500),
        memory_images=2,
        matmul_reps=2,
        matmul_min_seconds=0.02,
        paired_rounds=2,
        kernel_reps=2,
    ),
}


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, < 1 minute")
    parser.add_argument("--output_dir", default=str(BENCH_DIR / "results"))
    parser.add_argument("--with_pythae", action="store_true", help="time the pythae peer")
    parser.add_argument("--with_suite", action="store_true", help="time the test suite")
    parser.add_argument(
        "--device", choices=("cpu", "gpu"), default="cpu", help="gpu: bench/gpu.py's benchmark"
    )
    return parser.parse_args(argv)


def _meta(mode_name: str) -> dict:
    return {
        "mode": mode_name,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_info(),
        "platform": platform.platform(),
        "versions": versions(),
        "model": {
            "event_shape": list(EVENT_SHAPE),
            "num_nodes": NUM_NODES,
            "node_dim": NODE_DIM,
            "encoder_units": list(ENCODER_UNITS),
            "decoder_units": list(DECODER_UNITS),
            "seed": MODEL_SEED,
        },
    }


def _load_data(mode: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """Training images (grey), evaluation images (binarised), and where they came from."""
    n_train = mode["steps_per_epoch"] * BATCH_SIZE
    train_images, train_source = load_images("train", n_train)
    eval_grey, eval_source = load_images("test", max(mode["eval_images"], mode["memory_images"]))
    data = {
        "train": train_source,
        "eval": f"{eval_source}, binarised with a fixed seed",
        "real": not train_source.startswith("random"),
    }
    log(f"data: {train_source}")
    return train_images, binarize(eval_grey), data


def _in_process(results: dict, mode: dict, train_images, eval_images) -> None:
    """Training, evaluation, matmul and kernels, timed in this process, into `results`."""
    results["training"], models = bench_training(
        train_images,
        mode["steps_per_epoch"],
        mode["train_reps"],
        mode["xla_structures"],
        mode["steps_per_execution"],
    )
    results["evaluation"] = bench_evaluation(models, eval_images[: mode["eval_images"]], mode)
    rows = results["evaluation"]["steady"]["images_per_batch"] * min(
        mode["num_samples"], results["evaluation"]["default_chunk_rows"]
    )
    results["matmul"] = bench_matmul(mode["matmul_reps"], mode["matmul_min_seconds"], rows)
    results["evaluation"]["paired"] = bench_paired(
        models["learned"],
        eval_images[: mode["eval_images"]],
        mode["num_samples"],
        mode["paired_rounds"],
        mode["matmul_min_seconds"],
    )
    results["evaluation"]["eval_over_matmul"] = results["evaluation"]["paired"]["median_ratio"]
    del models
    results["kernels"] = bench_kernels(rows, mode["kernel_reps"])


def _pythae(args, mode: dict, tmp: Path, train_path: Path, eval_images) -> dict:
    if args.quick:
        return {"status": "skipped (quick mode)"}
    if not args.with_pythae:
        return {"status": "not run (use --with_pythae)"}
    log("pythae peer ...")
    peer_eval_path = tmp / "peer_eval.npy"  # the images tgv's evaluation used
    np.save(peer_eval_path, eval_images[: mode["eval_images"]])
    return run_pythae(train_path, peer_eval_path, mode)


def _command_training(args, mode: dict, tmp: Path, training: dict) -> dict:
    """`tfgvae-train`'s own epoch times, set against the best `model.fit` learned row."""
    if args.quick:
        return {"status": "skipped (quick mode)"}
    log("tfgvae-train command ...")
    command = command_training(FASHION_MNIST_DIR, mode["steps_per_epoch"], mode["train_reps"], tmp)
    if command.get("status") == "ok":
        best = best_learned(training)
        command["over_best_learned_fit"] = command["examples_per_s"] / best["examples_per_s"]
        log(f"tfgvae-train: {command['examples_per_s']:.0f} examples/s")
    log(f"tfgvae-train: {command.get('status')}")
    return command


def _wall_clock(args, tmp: Path) -> dict:
    wall = {}
    if args.quick:
        wall["quickstart"] = {"status": "skipped (quick mode)"}
    else:
        log("quickstart run ...")
        wall["quickstart"] = wall_clock(
            [
                console_script("tfgvae-train"),
                "--dataset=digits",
                "--epochs=20",
                f"--model_dir={tmp / 'quickstart'}",
            ],
            timeout=3600,
            cwd=tmp,
        )
    if args.with_suite and not args.quick:
        log("test suite ...")
        wall["test_suite"] = wall_clock(
            # the README's test command: two workers, as the suite-time target states
            [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider"],
            timeout=7200,
            cwd=ROOT,
        )
    else:
        wall["test_suite"] = {"status": "not measured (use --with_suite)"}
    return wall


def _measure(args, mode: dict, results: dict, train_images, eval_images) -> None:
    """Every measurement, in order, into `results` (children's files in a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="tgv-bench-") as tmp:
        tmp = Path(tmp)
        train_path, eval_path = tmp / "train.npy", tmp / "eval.npy"
        np.save(train_path, train_images)
        np.save(eval_path, eval_images)
        memory_procs = None
        if args.quick:  # quick: overlap the memory processes with the rest (no timings kept)
            memory_procs = start_memory_runs(eval_path, mode)
        _in_process(results, mode, train_images, eval_images)
        if memory_procs is None:
            memory_procs = start_memory_runs(eval_path, mode)
        results["memory"] = finish_memory_runs(memory_procs, timeout=900)
        log(f"memory: peak ratio {results['memory'].get('peak_ratio')}")
        results["pythae"] = _pythae(args, mode, tmp, train_path, eval_images)
        log(f"pythae: {results['pythae'].get('status')}")
        results["command_training"] = _command_training(args, mode, tmp, results["training"])
        results["wall_clock"] = _wall_clock(args, tmp)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.device == "gpu":
        import gpu

        return gpu.main(["--output_dir", args.output_dir])
    mode_name = "quick" if args.quick else "full"
    mode = MODES[mode_name]
    start = time.perf_counter()

    from tf_graphvae.config.files import write_json, write_text

    results = {"meta": _meta(mode_name)}
    train_images, eval_images, results["data"] = _load_data(mode)
    _measure(args, mode, results, train_images, eval_images)
    results["targets"] = evaluate_targets(results, TARGETS)
    results["meta"]["load_average_end"] = cpu_info()["load_average"]
    results["meta"]["bench_seconds"] = round(time.perf_counter() - start, 1)
    out = Path(args.output_dir)
    write_json(out / "bench.json", results)
    write_text(out / "bench.md", markdown(results))
    log(f"wrote {out / 'bench.json'} and {out / 'bench.md'} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
