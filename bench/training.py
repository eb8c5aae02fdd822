"""Training throughput of `model.fit`: examples/s per structure, epoch-time spread, ratios.

Imported by `run.py` as a top-level module from this folder (see common.py). TensorFlow
and Keras are imported only when a benchmark runs.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from common import BATCH_SIZE, MODEL_SEED, epoch_summary, log, make_model, median

if TYPE_CHECKING:
    import keras

STRUCTURES = ("independent", "chain", "full", "learned")


@functools.cache
def _epoch_timer_class() -> type:
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Wall-clock seconds of every epoch of the `fit` calls it is passed to."""

        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._start)

    return EpochTimer


def epoch_timer() -> keras.callbacks.Callback:
    """A new `EpochTimer` callback: its `times` list gains each epoch's seconds."""
    return _epoch_timer_class()()


def _epoch_dataset(train_images: np.ndarray, n: int):
    import tensorflow as tf

    return (
        tf.data.Dataset.from_tensor_slices(train_images[:n])
        .batch(BATCH_SIZE, drop_remainder=True)
        .cache()
        .prefetch(tf.data.AUTOTUNE)
    )


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


def _compile_all(configs, ds) -> tuple[dict, dict, dict]:
    """Each config's model after its first epoch (trace + compile), its timer, that time."""
    import keras

    models, timers, first = {}, {}, {}
    for name, structure, jit, spe in configs:
        keras.utils.set_random_seed(MODEL_SEED)
        model = make_model(structure, jit_compile=jit, steps_per_execution=spe)
        timer = epoch_timer()
        start = time.perf_counter()
        model.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[timer])
        first[name] = time.perf_counter() - start
        log(f"training {name}: first epoch (trace + compile) {first[name]:.1f} s")
        models[name], timers[name] = model, timer
    return models, timers, first


def _run_entry(config, times: list[float], first: float, n: int, steps_per_epoch: int) -> dict:
    """The reported numbers of one config from all its epoch times."""
    _, structure, jit, spe = config
    # `first_epoch_seconds` is replaced (in place) by the whole first `fit` call, as a
    # user pays it; the callback's times[0] misses the work before the epoch begins.
    summary = epoch_summary(times, n)
    ms_per_step = 1000 * median(times[2:]) / steps_per_epoch
    return {
        "structure": structure,
        "jit_compile": jit,
        "steps_per_execution": spe,
        "examples_per_s": summary.pop("examples_per_s"),
        "ms_per_step": ms_per_step,
        **summary,
        "first_epoch_seconds": round(first, 2),
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

    One epoch = `steps_per_epoch` batches of an in-memory, cached, prefetched dataset.
    The first epoch (tracing and XLA compilation) is timed apart. Then the models take
    turns, one epoch each: one round of warm-up (the first epoch after compilation can
    still be several times slower; it is reported as `warmup_epoch_seconds`), then `reps`
    rounds (interleaved, so that a slow spell of a busy machine hits every model alike);
    each model's median epoch time is reported.
    """
    n = steps_per_epoch * BATCH_SIZE
    ds = _epoch_dataset(train_images, n)
    configs = _configs(xla_structures, steps_per_execution)
    models, timers, first = _compile_all(configs, ds)
    for _ in range(1 + reps):
        for name, model in models.items():
            model.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[timers[name]])
    runs = {}
    for config in configs:
        name = config[0]
        runs[name] = _run_entry(config, timers[name].times, first[name], n, steps_per_epoch)
        log(f"training {name}: {runs[name]['examples_per_s']:.0f} examples/s")
    result = {
        "batch_size": BATCH_SIZE,
        "steps_per_epoch": steps_per_epoch,
        "examples_per_epoch": n,
        "reps": reps,
        "method": "median epoch time of model.fit over reps interleaved epochs, "
        "after a first (compile) epoch and one warm-up epoch",
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
