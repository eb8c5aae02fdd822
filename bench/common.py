"""Helpers shared by the benchmark scripts: data, the benchmarked model, timing, memory.

The scripts in `bench/` are run as files (`python bench/run.py`), so this module is
imported as a top-level `common` from the scripts' own folder.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

EVENT_SHAPE = (28, 28, 1)
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
# The default networks of `GraphVAE` (docs/design.md §6), spelled out for the report and the peer.
NUM_NODES = 5
NODE_DIM = 10
ENCODER_UNITS = (512, 512, 256)
DECODER_UNITS = (256, 512, 512)
BATCH_SIZE = 128
MODEL_SEED = 0
DATA_SEED = 1234


def load_images(split: str, count: int) -> tuple[np.ndarray, str]:
    """`count` grey images in [0, 1], `[count, 28, 28, 1]` float32, and where they came from.

    Real Fashion-MNIST from the Debian `dataset-fashion-mnist` files when present, else
    random binary images of the same shape (the source string says which, and why).
    """
    try:
        from tf_graphvae import data as tgv_data

        images = tgv_data.load_numpy(
            "fashion_mnist", f"{split}[:{count}]", data_dir=FASHION_MNIST_DIR
        )
        if len(images) == count:
            return np.ascontiguousarray(images, np.float32), f"fashion_mnist {split}[:{count}]"
        reason = f"only {len(images)} images in fashion_mnist {split}"
    except Exception as err:  # noqa: BLE001 - any failure falls back to random data
        reason = f"{type(err).__name__}: {err}"
    offset = 0 if split == "train" else 1
    rng = np.random.default_rng(DATA_SEED + offset)
    images = (rng.uniform(size=(count, *EVENT_SHAPE)) < 0.3).astype(np.float32)
    return images, f"random binary images (fashion_mnist unavailable: {reason})"


def binarize(images: np.ndarray, seed: int = DATA_SEED) -> np.ndarray:
    """A fixed Bernoulli draw of each pixel's intensity (evaluation needs binary images)."""
    u = np.random.default_rng(seed).uniform(size=images.shape)
    return (u < images).astype(np.float32)


def cached_batches(images: np.ndarray, batch_size: int = BATCH_SIZE, autotune: bool = False):
    """In-memory images as full batches, cached, prefetched: the benchmarks' pipeline.

    Without tf.data's autotuning by default, as the commands' pipelines
    (`experiment.make_datasets`); `autotune=True` gives TensorFlow's default pipeline
    (`prefetch(tf.data.AUTOTUNE)`), for the studies that compare the two.
    """
    import tensorflow as tf

    from tf_graphvae import data as tgv_data

    ds = tf.data.Dataset.from_tensor_slices(images).batch(batch_size, drop_remainder=True)
    if autotune:
        return ds.cache().prefetch(tf.data.AUTOTUNE)
    return tgv_data.without_autotune(ds.cache()).prefetch(tgv_data.PREFETCH_BATCHES)


def make_model(structure: str, jit_compile: bool = True, steps_per_execution: int = 1):
    """The benchmarked model: `GraphVAE` with the default networks, compiled for training."""
    import keras

    import tf_graphvae as tgv

    model = tgv.GraphVAE(
        event_shape=EVENT_SHAPE,
        num_nodes=NUM_NODES,
        node_dim=NODE_DIM,
        structure=structure,
        seed=MODEL_SEED,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return model


def log(message: str) -> None:
    """A time-stamped progress line on stderr (stdout stays for results)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values) -> float:
    return float(statistics.median(values))


def epoch_summary(epoch_seconds: list[float], examples_per_epoch: int) -> dict:
    """Throughput and spread of a run's epochs after its first two (compile, warm-up)."""
    times = epoch_seconds[2:]
    return {
        "examples_per_s": examples_per_epoch / median(times),
        "epoch_seconds": [round(t, 4) for t in times],
        "epoch_seconds_min_median_max": [
            round(min(times), 4),
            round(median(times), 4),
            round(max(times), 4),
        ],  # fmt: skip
        "epoch_spread": max(times) / min(times),
        "first_epoch_seconds": round(epoch_seconds[0], 2),
        "warmup_epoch_seconds": round(epoch_seconds[1], 4),
    }


def time_call(fn, reps: int) -> list[float]:
    """Wall-clock seconds of `reps` calls of `fn()` (call it once before to warm up)."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def proc_status_kib(field: str) -> int | None:
    """A memory field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`); None where unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return None


def current_rss_kib() -> int:
    """Resident set size of this process now, in KiB (Linux; 0 where unknown)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def cpu_model() -> str | None:
    """The CPU's model name from `/proc/cpuinfo` (Linux; None elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_info() -> dict:
    info = {"cpu_count": os.cpu_count(), "model": cpu_model()}
    try:
        info["affinity"] = len(os.sched_getaffinity(0))
    except AttributeError:
        info["affinity"] = None
    try:
        info["load_average"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        info["load_average"] = None
    return info
