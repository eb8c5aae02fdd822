"""Training throughput of `model.fit`: examples/s per structure, epoch-time spread, ratios.

Imported by `run.py` as a top-level module from this folder (see common.py). TensorFlow
and Keras are imported only when a benchmark runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from common import BATCH_SIZE, MODEL_SEED, cached_batches, epoch_summary, log, make_model, median

STRUCTURES = ("independent", "chain", "full", "learned")


def _timed_fit(model, ds) -> float:
    """Wall-clock seconds of one one-epoch `fit` call, as its caller waits for it (with
    the dataset iterator's creation and release, where tf.data's autotuning could stall)."""
    start = time.perf_counter()
    model.fit(ds, epochs=1, verbose=0, shuffle=False)
    return time.perf_counter() - start


def _configs(
    xla_structures: Sequence[str], steps_per_execution: int | None
) -> list[tuple[str, str, bool, int]]:
    """(name, structure, jit_compile, steps_per_execution) of every timed model."""
    configs = [(s, s, s in xla_structures, 1) for s in STRUCTURES]
    configs.append(("learned_nojit", "learned", False, 1))
    if steps_per_execution:
        for s in ("independent", "learned"):
            configs.append((f"{s}_spe", s, True, steps_per_execution))
    return configs


def _compile_all(configs, ds) -> tuple[dict, dict]:
    """Each config's model after its first epoch (trace + compile), and its epoch times."""
    import keras

    models, times = {}, {}
    for name, structure, jit, spe in configs:
        keras.utils.set_random_seed(MODEL_SEED)
        model = make_model(structure, jit_compile=jit, steps_per_execution=spe)
        times[name] = [_timed_fit(model, ds)]
        log(f"training {name}: first epoch (trace + compile) {times[name][0]:.1f} s")
        models[name] = model
    return models, times


def _run_entry(config, times: list[float], n: int, steps_per_epoch: int) -> dict:
    """The reported numbers of one config from all its epoch times."""
    _, structure, jit, spe = config
    summary = epoch_summary(times, n)
    ms_per_step = 1000 * median(times[2:]) / steps_per_epoch
    return {
        "structure": structure,
        "jit_compile": jit,
        "steps_per_execution": spe,
        "examples_per_s": summary.pop("examples_per_s"),
        "ms_per_step": ms_per_step,
        **summary,
    }


def _ratios(runs: dict) -> dict:
    def time_per_example(name):
        return 1.0 / runs[name]["examples_per_s"]

    return {
        "learned_over_full_time": time_per_example("learned") / time_per_example("full"),
        "learned_over_independent_time": time_per_example("learned")
        / time_per_example("independent"),
        "xla_speedup_learned": time_per_example("learned_nojit") / time_per_example("learned"),
    }


def bench_training(
    train_images: np.ndarray,
    steps_per_epoch: int,
    reps: int,
    xla_structures: Sequence[str] = STRUCTURES,
    steps_per_execution: int | None = None,
) -> tuple[dict, dict]:
    """Examples/s of `model.fit` per structure; the models, trained, for later use.

    The structures in `xla_structures` are compiled with `jit_compile=True` (all of them
    in full mode), and the learned structure also without XLA (`learned_nojit`). With
    `steps_per_execution`, the independent and learned structures are also run compiled
    with it (`independent_spe`, `learned_spe`).

    One epoch = `steps_per_epoch` batches of an in-memory, cached, prefetched dataset
    without tf.data's autotuning (as the commands' pipelines), timed as the wall time of a
    one-epoch `fit` call. The first epoch (tracing and XLA compilation) is timed apart.
    Then the models take turns, one epoch each: one round of warm-up (the first epoch
    after compilation can still be several times slower; it is reported as
    `warmup_epoch_seconds`), then `reps` rounds (interleaved, so that a slow spell of a
    busy machine hits every model alike); each model's median epoch time is reported.
    """
    n = steps_per_epoch * BATCH_SIZE
    ds = cached_batches(train_images[:n])  # as the commands': without autotuning
    configs = _configs(xla_structures, steps_per_execution)
    models, times = _compile_all(configs, ds)
    for _ in range(1 + reps):
        for name, model in models.items():
            times[name].append(_timed_fit(model, ds))
    runs = {}
    for config in configs:
        name = config[0]
        runs[name] = _run_entry(config, times[name], n, steps_per_epoch)
        log(f"training {name}: {runs[name]['examples_per_s']:.0f} examples/s")
    result = {
        "batch_size": BATCH_SIZE,
        "steps_per_epoch": steps_per_epoch,
        "examples_per_epoch": n,
        "reps": reps,
        "method": "median wall time of one-epoch model.fit calls over reps interleaved "
        "epochs, after a first (compile) epoch and one warm-up epoch; pipeline without "
        "tf.data autotuning",
        "runs": runs,
        "ratios": _ratios(runs),
    }
    return result, models


def best_independent(training: dict) -> dict:
    """The fastest compiled `model.fit` run of the independent structure (the peer's model)."""
    runs = [r for r in training["runs"].values() if r["structure"] == "independent"]
    return max(runs, key=lambda r: r["examples_per_s"])


def best_learned(training: dict) -> dict:
    """The fastest `model.fit` run of the learned structure (any XLA, steps/execution)."""
    runs = [r for r in training["runs"].values() if r["structure"] == "learned"]
    return max(runs, key=lambda r: r["examples_per_s"])
