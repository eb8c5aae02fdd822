"""Benchmarks of tf_graphvae: training and evaluation throughput, memory, a PyTorch peer.

python bench/run.py [--quick] [--output_dir=bench/results] [--with_pythae] [--with_suite]
                    [--device=gpu]

Writes `bench.json` (every number, with the settings that produced it) and `bench.md`
(tables ready to paste into the README) in `--output_dir`, atomically. Every timing is
the median of several repetitions after a warm-up; all ratios compare numbers measured
in the same run. `--quick` only checks that everything runs (tiny step counts, small K,
no peer, no quickstart run): its numbers are not benchmarks. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import os
import platform
import shutil
import subprocess
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
    MODEL_SEED,
    NODE_DIM,
    NUM_NODES,
    binarize,
    cpu_info,
    load_images,
    make_model,
    median,
    time_call,
)

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
STRUCTURES = ("independent", "chain", "full", "learned")

# Targets: key -> (comparison, bound, what is compared).
TARGETS = {
    "learned_over_full_time": ("<=", 1.10, "training time/example, learned / full"),
    "learned_over_independent_time": ("<=", 1.5, "training time/example, learned / independent"),
    "eval_flops_over_matmul": (">=", 0.7, "evaluation FLOP rate / dense matmul rate"),
    "epoch_time_spread": (
        "<=",
        1.3,
        "epoch time max / min, worst training row (steady state, >= 8 epochs)",
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
}

MODES = {
    "full": dict(
        steps_per_epoch=50,
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
        kernel_reps=2,
    ),
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- training
def bench_training(
    train_images: np.ndarray,
    steps_per_epoch: int,
    reps: int,
    xla_structures=STRUCTURES,
    steps_per_execution: int | None = None,
):
    """Examples/s of `model.fit` per structure; the models, trained, for later use.

    The structures in `xla_structures` are compiled with `jit_compile=True` (all of them
    in full mode), and the learned structure also without XLA (`learned_nojit`). With
    `steps_per_execution`, the independent and learned structures are also run compiled
    with it (`independent_spe`, `learned_spe`).

    One epoch = `steps_per_epoch` batches of an in-memory, cached, prefetched dataset.
    The first epoch (tracing and XLA compilation) is timed apart. Then the models take
    turns, one epoch each: one round of warm-up (the first epoch after compilation can
    still be several times slower; it is reported as `warmup_epoch_seconds`), then `reps`
    rounds (interleaved, so that a slow spell of a busy machine hits every model alike);
    each model's median epoch time is reported.
    """
    import keras
    import tensorflow as tf

    n = steps_per_epoch * BATCH_SIZE
    ds = (
        tf.data.Dataset.from_tensor_slices(train_images[:n])
        .batch(BATCH_SIZE, drop_remainder=True)
        .cache()
        .prefetch(tf.data.AUTOTUNE)
    )

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._start)

    configs = [(s, s, s in xla_structures, 1) for s in STRUCTURES]
    configs.append(("learned_nojit", "learned", False, 1))
    if steps_per_execution:
        for s in ("independent", "learned"):
            configs.append((f"{s}_spe", s, True, steps_per_execution))
    models, timers, first = {}, {}, {}
    for name, structure, jit, spe in configs:
        keras.utils.set_random_seed(MODEL_SEED)
        model = make_model(structure, jit_compile=jit, steps_per_execution=spe)
        timer = EpochTimer()
        start = time.perf_counter()
        model.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[timer])
        first[name] = time.perf_counter() - start
        log(f"training {name}: first epoch (trace + compile) {first[name]:.1f} s")
        models[name], timers[name] = model, timer
    for _ in range(1 + reps):
        for name, model in models.items():
            model.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[timers[name]])
    runs = {}
    for name, structure, jit, spe in configs:
        epoch_times = timers[name].times[2:]  # [0]: compile epoch, [1]: warm-up
        runs[name] = {
            "structure": structure,
            "jit_compile": jit,
            "steps_per_execution": spe,
            "examples_per_s": n / median(epoch_times),
            "ms_per_step": 1000 * median(epoch_times) / steps_per_epoch,
            "epoch_seconds": [round(t, 4) for t in epoch_times],
            "epoch_seconds_min_median_max": [
                round(min(epoch_times), 4),
                round(median(epoch_times), 4),
                round(max(epoch_times), 4),
            ],  # fmt: skip
            "epoch_spread": max(epoch_times) / min(epoch_times),
            "first_epoch_seconds": round(first[name], 2),
            "warmup_epoch_seconds": round(timers[name].times[1], 4),
        }
        log(f"training {name}: {runs[name]['examples_per_s']:.0f} examples/s")

    def time_per_example(name):
        return 1.0 / runs[name]["examples_per_s"]

    ratios = {
        "learned_over_full_time": time_per_example("learned") / time_per_example("full"),
        "learned_over_independent_time": time_per_example("learned")
        / time_per_example("independent"),
        "xla_speedup_learned": time_per_example("learned_nojit") / time_per_example("learned"),
    }
    result = {
        "batch_size": BATCH_SIZE,
        "steps_per_epoch": steps_per_epoch,
        "examples_per_epoch": n,
        "reps": reps,
        "method": "median epoch time of model.fit over reps interleaved epochs, "
        "after a first (compile) epoch and one warm-up epoch",
        "runs": runs,
        "ratios": ratios,
    }
    return result, models


# ------------------------------------------------------------------------- evaluation
def _images_per_batch(chunk_rows: int, num_samples: int, images_per_batch: int | None) -> int:
    """The batch of images `log_likelihood` will use (its default rule)."""
    if images_per_batch is None:
        return int(min(10, max(1, chunk_rows // num_samples)))
    return images_per_batch


def dense_flops(model, num_samples: int) -> dict:
    """FLOPs of the dense layers per importance sample, from the model's kernel shapes.

    2 * in * out per dense layer: the decoder and the top-down MLPs of the sequential
    posterior pass (node j's MLP sees only its possible parents' `(N-1-j) N'` inputs)
    run once per sample; the encoder and bottom-up layer once per image, amortised
    over the K samples. Element-wise work (sampling, log-densities) is not counted.
    """
    import keras

    def layer_flops(layers):
        total = 0
        for layer in layers:
            if isinstance(layer, keras.layers.Dense):
                fan_in, fan_out = layer.kernel.shape
                total += 2 * int(fan_in) * int(fan_out)
        return total

    decoder = layer_flops(model.decoder.dense + model.decoder.head)
    top_down = 0
    if model.dag.has_top_down:
        n, d, h = model.num_nodes, model.node_dim, model.top_down_units
        for j in range(n - 1):
            top_down += 2 * (n - 1 - j) * d * h + 2 * h * 2 * d
    encoder = layer_flops(model.encoder.dense) + layer_flops([model.bottom_up_layer])
    return {
        "decoder": decoder,
        "top_down": top_down,
        "encoder_per_image": encoder,
        "per_sample": decoder + top_down + encoder / num_samples,
    }


def _time_log_likelihood(model, images, num_samples, reps, **kwargs) -> list[float]:
    from tf_graphvae import evaluate

    return time_call(
        lambda: evaluate.log_likelihood(model, images, num_samples, progress=False, **kwargs),
        reps,
    )


def bench_evaluation(models: dict, images: np.ndarray, mode: dict) -> dict:
    """Importance samples/s of `log_likelihood`, its FLOP rate, and a chunk-size sweep."""
    from tf_graphvae import evaluate

    k = mode["num_samples"]
    n = len(images)
    samples = n * k
    model = models["learned"]
    result = {
        "model": "learned, default networks, trained for "
        f"{int(model.optimizer.iterations.numpy())} steps",
        "num_samples": k,
        "num_images": n,
        "reps": mode["eval_reps"],
        "default_chunk_rows": evaluate.DEFAULT_CHUNK_ROWS,
    }

    sweep = []
    # A first call on a model traces and XLA-compiles its weight function
    # (`evaluate.weight_function`, cached per model); emptying the cache measures that.
    # The function it leaves behind is reused for the steady-state timings.
    times = []
    for _ in range(mode["end_to_end_reps"]):
        evaluate._WEIGHT_FUNCTIONS.clear()
        times += _time_log_likelihood(model, images, k, 1)
    result["end_to_end"] = {
        "reps": mode["end_to_end_reps"],
        "seconds": [round(t, 3) for t in times],
        "samples_per_s": samples / median(times),
    }
    log(f"evaluation end to end: {result['end_to_end']['samples_per_s']:.0f} samples/s")

    configs = list(mode["sweep"])
    if (evaluate.DEFAULT_CHUNK_ROWS, None) not in configs:
        configs.insert(0, (evaluate.DEFAULT_CHUNK_ROWS, None))
    for chunk_rows, ipb in configs:
        batch = min(n, _images_per_batch(chunk_rows, k, ipb))
        kwargs = {"chunk_rows": chunk_rows, "images_per_batch": ipb}
        is_default = (chunk_rows, ipb) == (evaluate.DEFAULT_CHUNK_ROWS, None)
        start = time.perf_counter()
        if not is_default:  # the default's shapes were compiled by the calls above
            evaluate.log_likelihood(model, images[:batch], k, progress=False, **kwargs)
        warmup = time.perf_counter() - start
        times = _time_log_likelihood(model, images, k, mode["eval_reps"], **kwargs)
        k_chunk = int(max(1, min(k, chunk_rows // batch)))
        entry = {
            "chunk_rows": chunk_rows,
            "images_per_batch": batch,
            "images_per_batch_arg": ipb,
            "rows_per_call": batch * k_chunk,
            "seconds": [round(t, 3) for t in times],
            "samples_per_s": samples / median(times),
            "warmup_seconds": round(warmup, 2),
            "default": is_default,
        }
        sweep.append(entry)
        log(
            f"evaluation chunk_rows={chunk_rows} images_per_batch={batch}: "
            f"{entry['samples_per_s']:.0f} samples/s"
        )
    default = next(e for e in sweep if e["default"])
    if mode["eval_independent"]:
        # The same measurement for the mean-field model (the peer's architecture).
        other = models["independent"]
        _time_log_likelihood(other, images, k, 1)  # warm-up (compiles)
        times = _time_log_likelihood(other, images, k, mode["eval_reps"])
        result["independent_samples_per_s"] = samples / median(times)
        log(f"evaluation independent: {result['independent_samples_per_s']:.0f} samples/s")
    result["chunk_sweep"] = sweep
    result["steady"] = {
        "chunk_rows": default["chunk_rows"],
        "images_per_batch": default["images_per_batch"],
        "samples_per_s": default["samples_per_s"],
        "seconds": default["seconds"],
    }
    end_to_end_s = median(result["end_to_end"]["seconds"])
    result["compile_seconds_per_call"] = max(0.0, end_to_end_s - median(default["seconds"]))
    flops = dense_flops(model, k)
    result["flops"] = flops
    result["gflops_per_s"] = flops["per_sample"] * default["samples_per_s"] / 1e9
    return result


def bench_matmul(reps: int, min_seconds: float, rows: int) -> dict:
    """GFLOP/s of dense float32 matmuls under `tf.function(jit_compile=True)` (and without).

    Shapes: 2048^3, and the decoder's widest layer at the evaluation's rows per call,
    `[rows, 512] x [512, 784]`.
    """
    import tensorflow as tf

    out = {}
    shapes = {"square_2048": (2048, 2048, 2048), "decoder_output": (rows, DECODER_UNITS[-1], 784)}
    for name, (m, k, n) in shapes.items():
        a = tf.random.stateless_normal([m, k], seed=[1, 2])
        b = tf.random.stateless_normal([k, n], seed=[3, 4])
        entry = {"shape": [m, k, n]}
        for jit in (True, False):
            fn = tf.function(lambda a, b: tf.matmul(a, b), jit_compile=jit)
            fn(a, b).numpy()  # compile
            start = time.perf_counter()
            fn(a, b).numpy()
            once = time.perf_counter() - start
            iters = max(1, math.ceil(min_seconds / max(once, 1e-6)))

            def run(fn=fn, iters=iters, a=a, b=b):
                for _ in range(iters):
                    result = fn(a, b)
                result.numpy()

            times = [t / iters for t in time_call(run, reps)]
            entry["xla_gflops_per_s" if jit else "eager_gflops_per_s"] = (
                2 * m * k * n / median(times) / 1e9
            )
        entry["iterations_per_rep"] = iters
        out[name] = entry
        log(f"matmul {name}: {entry['xla_gflops_per_s']:.1f} GFLOP/s (XLA)")
    out["reps"] = reps
    return out


def bench_kernels(rows: int, reps: int) -> dict:
    """The element-wise terms and draws the model runs in bulk, each timed against the
    formulation it replaced, under `tf.function(jit_compile=True)`.

    - `bernoulli`: `log p(x | z)` of `rows` images of 28 x 28 from decoder logits, with
      `tfd.Independent(tfd.Bernoulli(logits), 3).log_prob` against the closed form
      summed over the image axes.
    - `flat`: that closed form summed over the image axes `[H, W, C]` against the
      package's (`BernoulliLikelihood.log_prob`, one flat pixel axis).
    - `binarise`: a Bernoulli draw of `rows` grey images with the default stateless
      algorithm against the package's (`GraphVAE.binarize`, Philox named).
    - `merge`: the precision-weighted merge of `rows x 5 x 10` Gaussians, the earlier
      `logsumexp` of stacked precisions against `gated_dag.precision_weighted_merge`.
    """
    import tensorflow as tf
    import tensorflow_probability as tfp

    from tf_graphvae.layers.gated_dag import precision_weighted_merge
    from tf_graphvae.layers.likelihoods import BernoulliLikelihood

    def tfp_bernoulli(logits, x):
        bernoulli = tfp.distributions.Bernoulli(logits=logits, dtype=logits.dtype)
        return tfp.distributions.Independent(bernoulli, 3).log_prob(x)

    def closed_form_image_axes(logits, x):
        return tf.reduce_sum(x * logits - tf.nn.softplus(logits), axis=[-3, -2, -1])

    def default_alg_binarise(grey, seed):
        return tf.cast(tf.random.stateless_uniform(tf.shape(grey), seed=seed) < grey, grey.dtype)

    def logsumexp_merge(prior_mean, prior_log_var, data_mean, data_log_var):
        log_var = -tf.reduce_logsumexp(tf.stack([-prior_log_var, -data_log_var]), axis=0)
        mean = prior_mean * tf.exp(log_var - prior_log_var) + data_mean * tf.exp(
            log_var - data_log_var
        )
        return mean, log_var

    logits = tf.random.stateless_normal([rows, *EVENT_SHAPE], seed=[5, 6]) * 3.0
    x = tf.cast(tf.random.stateless_uniform([rows, *EVENT_SHAPE], seed=[7, 8]) < 0.3, tf.float32)
    shape = [rows, NUM_NODES, NODE_DIM]
    gaussians = [tf.random.stateless_normal(shape, seed=[9, i]) for i in range(4)]
    grey = tf.random.stateless_uniform([rows, *EVENT_SHAPE], seed=[1, 2])
    package = make_model("independent", jit_compile=False)  # for its binarize
    cases = {
        "bernoulli": ((logits, x), tfp_bernoulli, closed_form_image_axes),
        "flat": ((logits, x), closed_form_image_axes, BernoulliLikelihood().log_prob),
        "binarise": ((grey, tf.constant([3, 4])), default_alg_binarise, package.binarize),
        "merge": (gaussians, logsumexp_merge, precision_weighted_merge),
    }
    out = {"rows": rows, "reps": reps}
    for name, (args, before, after) in cases.items():
        entry = {}
        for label, fn in (("before_ms", before), ("after_ms", after)):
            compiled = tf.function(fn, jit_compile=True)

            def run(compiled=compiled, args=args):
                tf.nest.map_structure(lambda t: t.numpy(), compiled(*args))

            run()  # compile
            entry[label] = median(time_call(run, reps)) * 1e3
        entry["speedup"] = entry["before_ms"] / entry["after_ms"]
        out[name] = entry
        log(f"kernel {name}: {entry['before_ms']:.1f} -> {entry['after_ms']:.1f} ms")
    return out


# ----------------------------------------------------------------------- subprocesses
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


def finish_memory_runs(procs, timeout: float) -> dict:
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
            parsed = _result_line(proc.stdout) or {
                "status": f"failed: exit {proc.returncode}: {proc.stderr.strip()[-500:]}"
            }
        except subprocess.TimeoutExpired:
            parsed = {"status": "failed: timed out after 3600 s"}
        runs[str(threads)] = parsed
        log(f"pythae ({threads} threads): {parsed.get('status')}")
    primary = dict(runs[str(os.cpu_count() or 1)])
    primary["by_threads"] = runs
    ok = [r for r in runs.values() if r.get("status") == "ok"]
    if ok:
        primary["best_train_examples_per_s"] = max(r["train_examples_per_s"] for r in ok)
        primary["best_nll_samples_per_s"] = max(r["nll_samples_per_s"] for r in ok)
    return primary


def wall_clock(cmd: list[str], timeout: float, cwd: Path) -> dict:
    # The recorded command names programs and folders, not where this machine keeps them.
    shown = " ".join([Path(cmd[0]).name, *cmd[1:]]).replace(str(cwd), "<cwd>")
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


def _console_script(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


# ---------------------------------------------------------------------------- report
def versions() -> dict:
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp

    out = {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tensorflow_probability": tfp.__version__,
        "numpy": np.__version__,
    }
    import tf_graphvae

    out["tf_graphvae"] = tf_graphvae.__version__
    return out


def best_independent(training: dict) -> dict:
    """The fastest compiled `model.fit` run of the independent structure (the peer's model)."""
    runs = [r for r in training["runs"].values() if r["structure"] == "independent"]
    return max(runs, key=lambda r: r["examples_per_s"])


def evaluate_targets(results: dict) -> dict:
    values = {}
    training = results["training"]["ratios"]
    values["learned_over_full_time"] = training["learned_over_full_time"]
    values["learned_over_independent_time"] = training["learned_over_independent_time"]
    values["epoch_time_spread"] = max(
        r["epoch_spread"] for r in results["training"]["runs"].values()
    )
    evaluation = results["evaluation"]
    matmul = results["matmul"]["square_2048"]["xla_gflops_per_s"]
    values["eval_flops_over_matmul"] = evaluation["gflops_per_s"] / matmul
    values["memory_peak_ratio"] = results["memory"].get("peak_ratio")
    peer = results["pythae"]
    tgv_train = best_independent(results["training"])["examples_per_s"]
    tgv_eval = evaluation["steady"]["samples_per_s"]
    for suffix, train_key, eval_key in (
        ("", "train_examples_per_s", "nll_samples_per_s"),
        ("_best", "best_train_examples_per_s", "best_nll_samples_per_s"),
    ):
        ok = peer.get(train_key) and peer.get(eval_key)
        values[f"train_tgv_over_pythae{suffix}"] = tgv_train / peer[train_key] if ok else None
        values[f"eval_tgv_over_pythae{suffix}"] = tgv_eval / peer[eval_key] if ok else None
    out = {}
    for key, (op, bound, what) in TARGETS.items():
        value = values[key]
        if value is None:
            verdict = "n/a"
        else:
            ok = value <= bound if op == "<=" else value >= bound
            verdict = "PASS" if ok else "FAIL"
        out[key] = {"what": what, "value": value, "target": f"{op} {bound}", "result": verdict}
    return out


def _f(value, digits=2) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def markdown(results: dict) -> str:
    meta = results["meta"]
    cpu = meta["cpu"]
    v = meta["versions"]
    tr = results["training"]
    ev = results["evaluation"]
    mm = results["matmul"]
    mem = results["memory"]
    peer = results["pythae"]
    lines = [
        "## Benchmarks",
        "",
        f"`python bench/run.py{' --quick' if meta['mode'] == 'quick' else ''}` on "
        f"{meta['date'][:10]}: {cpu['cpu_count']} CPUs"
        f"{' (' + cpu['model'] + ')' if cpu.get('model') else ''} (affinity {cpu['affinity']}, "
        f"load average {cpu['load_average']} at start, {meta['load_average_end']} at end), "
        f"TensorFlow {v['tensorflow']}, Keras {v['keras']}, TFP {v['tensorflow_probability']}; "
        f"mode **{meta['mode']}**. Data: {results['data']['train']}. Every timing is the "
        "median of the stated repetitions after a warm-up.",
        "",
    ]
    if meta["mode"] == "quick":
        lines += ["> Quick mode: a smoke run with tiny step counts; not a benchmark.", ""]
    lines += [
        f"### Training (`model.fit`, batch {tr['batch_size']}, default networks, "
        f"{tr['steps_per_epoch']} steps per epoch, median of {tr['reps']} epochs)",
        "",
        "| structure | XLA | steps/execution | examples/s | ms/step "
        "| epoch s min / median / max | time/example vs independent "
        "| first epoch incl. compile (s) |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    base = tr["runs"]["independent"]["examples_per_s"]
    for run in tr["runs"].values():
        lines.append(
            f"| {run['structure']} | {'yes' if run['jit_compile'] else 'no'} "
            f"| {run.get('steps_per_execution', 1)} "
            f"| {_f(run['examples_per_s'], 0)} | {_f(run['ms_per_step'], 1)} "
            f"| {' / '.join(_f(t, 3) for t in run.get('epoch_seconds_min_median_max', []))} "
            f"| {_f(base / run['examples_per_s'])} | {_f(run['first_epoch_seconds'], 1)} |"
        )
    lines += [
        "",
        f"XLA speed-up of the learned structure's step: "
        f"{_f(tr['ratios']['xla_speedup_learned'])}x.",
        "",
        f"### Importance-weighted log-likelihood (K = {ev['num_samples']}, "
        f"{ev['num_images']} images, {ev['model']})",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| importance samples/s, steady state (default chunk_rows "
        f"{ev['default_chunk_rows']}) | {_f(ev['steady']['samples_per_s'], 0)} |",
        f"| importance samples/s, one `log_likelihood` call incl. its compilation "
        f"| {_f(ev['end_to_end']['samples_per_s'], 0)} |",
        f"| trace + compile per `log_likelihood` call (s) "
        f"| {_f(ev['compile_seconds_per_call'], 1)} |",
        f"| dense FLOPs per importance sample | {ev['flops']['per_sample'] / 1e6:.3f} M |",
        f"| evaluation FLOP rate (GFLOP/s) | {_f(ev['gflops_per_s'], 1)} |",
        f"| matmul 2048^3, XLA (GFLOP/s) | {_f(mm['square_2048']['xla_gflops_per_s'], 1)} |",
        f"| matmul {'x'.join(map(str, mm['decoder_output']['shape']))}, XLA (GFLOP/s) "
        f"| {_f(mm['decoder_output']['xla_gflops_per_s'], 1)} |",
    ]
    if "independent_samples_per_s" in ev:
        lines.append(
            f"| importance samples/s, independent structure "
            f"| {_f(ev['independent_samples_per_s'], 0)} |"
        )
    lines += [
        "",
        "| chunk_rows | images per batch | rows per call | samples/s |",
        "|---:|---:|---:|---:|",
    ]
    for e in ev["chunk_sweep"]:
        lines.append(
            f"| {e['chunk_rows']} | {e['images_per_batch']} | {e['rows_per_call']} "
            f"| {_f(e['samples_per_s'], 0)} |"
        )
    kernels = results.get("kernels")
    if kernels:
        lines += [
            "",
            f"### Kernels ({kernels['rows']} rows, XLA, median of {kernels['reps']})",
            "",
            "| term | before (ms) | now (ms) | speed-up |",
            "|---|---:|---:|---:|",
        ]
        names = {
            "bernoulli": "`log p(x|z)`: `tfd.Bernoulli` -> closed form",
            "flat": "`log p(x|z)`: sum over [H, W, C] -> over one flat pixel axis",
            "binarise": "binarisation draw: default algorithm -> Philox named",
            "merge": "precision merge: logsumexp -> sigmoid/softplus",
        }
        for key, label in names.items():
            if key not in kernels:  # results written before this row existed
                continue
            k = kernels[key]
            lines.append(
                f"| {label} | {_f(k['before_ms'], 1)} | {_f(k['after_ms'], 1)} "
                f"| {_f(k['speedup'])}x |"
            )
    lines += ["", "### Evaluation memory (fresh process per K, peak RSS)", ""]
    lines += [
        "| K | images | peak RSS (MiB) | growth over pre-evaluation peak (MiB) |",
        "|---:|---:|---:|---:|",
    ]
    for k, run in mem["runs"].items():
        if "peak_kib" in run:
            lines.append(
                f"| {k} | {run['num_images']} | {run['peak_kib'] / 1024:.0f} "
                f"| {run['growth_kib'] / 1024:.0f} |"
            )
        else:
            lines.append(f"| {k} | | error: {run.get('error', '')[:80]} | |")
    lines += ["", "### Peer: pythae (PyTorch)", ""]
    runs = {t: r for t, r in peer.get("by_threads", {}).items() if r.get("status") == "ok"}
    if runs:
        first = next(iter(runs.values()))
        header = " | ".join(f"pythae, {t} thread{'s' if t != '1' else ''}" for t in runs)
        lines += [
            f"pythae {first['pythae_version']}, torch {first['torch_version']}, the same MLPs "
            "(50-d latent); `get_nll` in `torch.no_grad()`. tf_graphvae uses TensorFlow's "
            "default thread pools.",
            "",
            f"| measure | tf_graphvae | {header} |",
            "|---|---:|" + "---:|" * len(runs),
            "| training examples/s (tgv: independent, steps_per_execution "
            f"{best_independent(tr).get('steps_per_execution', 1)}) "
            f"| {_f(best_independent(tr)['examples_per_s'], 0)} | "
            + " | ".join(_f(r["train_examples_per_s"], 0) for r in runs.values())
            + " |",
            f"| LL importance samples/s, K = {first['nll_num_samples']} (tgv: learned) "
            f"| {_f(ev['steady']['samples_per_s'], 0)} | "
            + " | ".join(_f(r["nll_samples_per_s"], 0) for r in runs.values())
            + " |",
        ]
    else:
        lines.append(f"Not measured: {peer.get('status')}.")
    wc = results["wall_clock"]
    lines += ["", "### Wall clock", "", "| run | seconds |", "|---|---:|"]
    for name, entry in wc.items():
        seconds = entry.get("seconds")
        text = _f(seconds, 1) if seconds is not None else entry.get("status", "")
        if seconds is not None and entry.get("exit_code"):
            text += f" (exit {entry['exit_code']})"
        lines.append(f"| {name} | {text} |")
    lines += ["", "### Targets", ""]
    if meta["mode"] == "quick":
        lines += [
            "> Quick mode: smoke-run numbers (2 steps per epoch, the fixed structures without "
            "XLA, memory processes running beside the timed work); these verdicts mean nothing.",
            "",
        ]
    lines += ["| measure | value | target | result |", "|---|---:|---:|---|"]
    for t in results["targets"].values():
        lines.append(f"| {t['what']} | {_f(t['value'])} | {t['target']} | {t['result']} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, < 1 minute")
    parser.add_argument("--output_dir", default=str(BENCH_DIR / "results"))
    parser.add_argument("--with_pythae", action="store_true", help="time the pythae peer")
    parser.add_argument("--with_suite", action="store_true", help="time the test suite")
    parser.add_argument(
        "--device", choices=("cpu", "gpu"), default="cpu", help="gpu: bench/gpu.py's benchmark"
    )
    args = parser.parse_args(argv)
    if args.device == "gpu":
        import gpu

        return gpu.main(["--output_dir", args.output_dir])
    mode_name = "quick" if args.quick else "full"
    mode = MODES[mode_name]
    start = time.perf_counter()

    from tf_graphvae.io import write_json, write_text

    results = {
        "meta": {
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
    }
    n_train = mode["steps_per_epoch"] * BATCH_SIZE
    train_images, train_source = load_images("train", n_train)
    eval_grey, eval_source = load_images("test", max(mode["eval_images"], mode["memory_images"]))
    eval_images = binarize(eval_grey)
    results["data"] = {
        "train": train_source,
        "eval": f"{eval_source}, binarised with a fixed seed",
        "real": not train_source.startswith("random"),
    }
    log(f"data: {train_source}")

    with tempfile.TemporaryDirectory(prefix="tgv-bench-") as tmp:
        tmp = Path(tmp)
        train_path, eval_path = tmp / "train.npy", tmp / "eval.npy"
        np.save(train_path, train_images)
        np.save(eval_path, eval_images)
        memory_procs = None
        if args.quick:  # quick: overlap the memory processes with the rest (no timings kept)
            memory_procs = start_memory_runs(eval_path, mode)

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
        results["evaluation"]["eval_over_matmul"] = (
            results["evaluation"]["gflops_per_s"]
            / results["matmul"]["square_2048"]["xla_gflops_per_s"]
        )
        del models
        results["kernels"] = bench_kernels(rows, mode["kernel_reps"])

        if memory_procs is None:
            memory_procs = start_memory_runs(eval_path, mode)
        results["memory"] = finish_memory_runs(memory_procs, timeout=900)
        log(f"memory: peak ratio {results['memory'].get('peak_ratio')}")

        if args.quick:
            results["pythae"] = {"status": "skipped (quick mode)"}
        elif not args.with_pythae:
            results["pythae"] = {"status": "not run (use --with_pythae)"}
        else:
            log("pythae peer ...")
            peer_eval_path = tmp / "peer_eval.npy"  # the images tgv's evaluation used
            np.save(peer_eval_path, eval_images[: mode["eval_images"]])
            results["pythae"] = run_pythae(train_path, peer_eval_path, mode)
        log(f"pythae: {results['pythae'].get('status')}")

        wall = {}
        if args.quick:
            wall["quickstart"] = {"status": "skipped (quick mode)"}
        else:
            log("quickstart run ...")
            wall["quickstart"] = wall_clock(
                [
                    _console_script("tfgvae-train"),
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
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                timeout=7200,
                cwd=ROOT,
            )
        else:
            wall["test_suite"] = {"status": "not measured (use --with_suite)"}
        results["wall_clock"] = wall

    results["targets"] = evaluate_targets(results)
    results["meta"]["load_average_end"] = cpu_info()["load_average"]
    results["meta"]["bench_seconds"] = round(time.perf_counter() - start, 1)
    out = Path(args.output_dir)
    write_json(out / "bench.json", results)
    write_text(out / "bench.md", markdown(results))
    log(f"wrote {out / 'bench.json'} and {out / 'bench.md'} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
