"""Importance-weighted test log-likelihood, the paper's Table 1 metric (docs/design.md §4).

    log p(x) ≈ logmeanexp_k [ log p(x | z_k) + log p(z_k | c_k) − log q(z_k | x, c_k) ]

with a hard gate sample `c_k ~ Bernoulli(mu)` per importance sample, so the estimate is
of the mixture over structures. Samples are drawn in chunks and folded into a running
log-sum-exp, so memory does not grow with `K`.
"""

from __future__ import annotations

import collections
import concurrent.futures
import math
import weakref

import numpy as np
import tensorflow as tf

from tf_graphvae.config import positive_int
from tf_graphvae.model import GraphVAE
from tf_graphvae.progress import Progress

DEFAULT_NUM_SAMPLES = 5000
# Rows (images x importance samples) per compiled call: large enough to keep the matmuls
# efficient, small enough that activations stay a few hundred MB.
DEFAULT_CHUNK_ROWS = 5000
# Compiled calls in flight at once: two overlap one call's small top-down kernels with the
# other's matmuls (1.09x on 2 cores, `bench/profile_evaluation.py`); more only add memory.
DEFAULT_PARALLEL_CALLS = 2


def bits_per_dim(nats: np.ndarray | float, num_dims: int) -> np.ndarray | float:
    """`log p(x)` in nats to bits per dimension, `log p(x) / (D ln 2)` (sign kept)."""
    return np.asarray(nats) / (num_dims * math.log(2.0))


_WEIGHT_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def weight_function(model: GraphVAE, jit_compile: bool = True, hard_gates: str | None = None):
    """The compiled importance-weight function of `model`, made once per model and setting.

    `(images [B, ...], k, seed [2]) -> (log_w, elbo, kl)`, each `[k, B]`
    (`GraphVAE.importance_terms`). Reusing it saves a trace and an XLA compilation
    (seconds) on every `log_likelihood` call after the first.
    """
    per_model = _WEIGHT_FUNCTIONS.setdefault(model, {})
    key = (bool(jit_compile), hard_gates)
    if key not in per_model:
        per_model[key] = _weight_fn(model, jit_compile, hard_gates)
    return per_model[key]


def _weight_fn(model: GraphVAE, jit_compile: bool, hard_gates: str | None):
    """Compiled: images `[B, ...]`, `k`, seed -> log weights, ELBOs and KLs, each `[k, B]`."""

    def weights(x, k, seed):
        return model.importance_terms(x, k, seed, hard_gates=hard_gates)

    return tf.function(weights, jit_compile=jit_compile, reduce_retracing=True)


def log_likelihood(
    model: GraphVAE,
    dataset: tf.data.Dataset | np.ndarray,
    num_samples: int = DEFAULT_NUM_SAMPLES,
    *,
    seed: int = 0,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    images_per_batch: int | None = None,
    return_terms: bool = False,
    progress: bool | None = None,
    jit_compile: bool = True,
    hard_gates: str | None = None,
    parallel_calls: int = DEFAULT_PARALLEL_CALLS,
):
    """Per-example importance-weighted `log p(x)` in nats.

    Args:
        model: a trained `GraphVAE`.
        dataset: images `[n, H, W, C]` (numpy) or a `tf.data.Dataset` of single images
            or batches (labels ignored). Binary likelihood: images must already be
            binary (`tf_graphvae.data.load(..., binarize=True)` fixes them by a seed).
        num_samples: `K`, importance samples per image (the paper: 5,000).
        seed: the estimate is a deterministic function of the model, data and seed.
        chunk_rows: images x samples evaluated per compiled call; peak memory scales
            with it, not with `K`.
        images_per_batch: images evaluated together; default `chunk_rows // K` in 1..10.
        return_terms: also return the per-example mean ELBO and KL over the samples.
        progress: a bar (terminal) or a line every 30 s on stderr (`progress.Progress`).
        jit_compile: compile the weight computation with XLA.
        hard_gates: the gates of the importance samples: `"sample"` (a structure per
            sample: the mixture over structures) or `"map"` (the MAP graph `mu > 0.5`);
            default the model's `hard_gates`.
        parallel_calls: compiled chunk evaluations in flight at once (threads; the
            estimate is the same for every value).

    Returns:
        `ll` `[n]`, or `(ll, elbo, kl)` when `return_terms`.
    """
    num_samples = positive_int(num_samples, "num_samples")
    parallel_calls = positive_int(parallel_calls, "parallel_calls")
    if int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows!r}.")
    images = _as_array(dataset, len(model.event_shape))
    model.check_images(images)
    n = len(images)
    chunks = _chunks(n, num_samples, int(chunk_rows), images_per_batch)
    fn = weight_function(model, jit_compile, hard_gates)
    bar = Progress(n, f"log-likelihood (K = {num_samples})", enabled=progress is not False)

    ll, elbo, kl = (np.empty(n, np.float64) for _ in range(3))
    folds: dict[int, _Fold] = {}
    for ((start, end), _, _), terms in _run_chunks(
        fn, images, chunks, num_samples, seed, parallel_calls
    ):
        fold = folds.setdefault(start, _Fold(end - start))
        fold.add(*terms)
        if fold.samples == num_samples:  # chunks come back in order: the block is complete
            ll[start:end], elbo[start:end], kl[start:end] = folds.pop(start).result(num_samples)
            bar.update(end)
    return (ll, elbo, kl) if return_terms else ll


def chunk_shape(
    num_samples: int, chunk_rows: int = DEFAULT_CHUNK_ROWS, images_per_batch: int | None = None
) -> tuple[int, int]:
    """`(images per batch, samples per call)` of `log_likelihood` for these settings."""
    if images_per_batch is None:
        images_per_batch = int(min(10, max(1, chunk_rows // num_samples)))
    return images_per_batch, int(max(1, min(num_samples, chunk_rows // images_per_batch)))


def _chunks(n: int, num_samples: int, chunk_rows: int, images_per_batch: int | None) -> list:
    """The compiled calls of an evaluation, `((start, end), done, k)` in order: `k` samples
    from sample `done` on, for the images `start ... end - 1` (one block)."""
    images_per_batch, k_chunk = chunk_shape(num_samples, chunk_rows, images_per_batch)
    return [
        ((start, min(n, start + images_per_batch)), done, min(k_chunk, num_samples - done))
        for start in range(0, n, images_per_batch)
        for done in range(0, num_samples, k_chunk)
    ]


def _run_chunks(fn, images: np.ndarray, chunks: list, num_samples: int, seed: int, calls: int):
    """`(chunk, (log_w, elbo, kl))` of every chunk `((start, end), done, k)`, in order.

    Up to `calls` compiled calls run at once, from a pool of threads (TensorFlow releases
    the GIL while XLA runs): one call's sequential top-down pass, made of small kernels
    that leave a core idle, then overlaps the other's decoder matmuls. Chunk `done` of
    the block at `start` uses the stateless seed `[seed, start * K + done]` whichever
    thread runs it, so the estimate does not depend on the concurrency.
    """

    def run(chunk):
        (start, end), done, k = chunk
        chunk_seed = tf.constant([seed, start * num_samples + done], tf.int32)
        out = fn(tf.constant(images[start:end]), tf.constant(k), chunk_seed)
        return chunk, tuple(t.numpy().astype(np.float64) for t in out)

    if calls <= 1 or len(chunks) == 1:
        yield from map(run, chunks)
        return
    yield run(chunks[0])  # traces and compiles once, before any concurrent call
    with concurrent.futures.ThreadPoolExecutor(calls, thread_name_prefix="tgv-ll") as pool:
        pending = collections.deque()
        try:
            for chunk in chunks[1:]:
                pending.append(pool.submit(run, chunk))
                if len(pending) > calls:  # a bounded window: memory stays flat
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:  # an error or an abandoned generator: stop the rest
                future.cancel()


class _Fold:
    """A running log-sum-exp of importance weights (float64), and sums of ELBO and KL."""

    def __init__(self, num_images: int):
        self.log_sum = np.full(num_images, -np.inf)  # log sum_k w_k so far
        self.elbo_sum = np.zeros(num_images)
        self.kl_sum = np.zeros(num_images)
        self.samples = 0

    def add(self, log_w: np.ndarray, elbo: np.ndarray, kl: np.ndarray) -> None:
        self.log_sum = np.logaddexp(self.log_sum, _logsumexp(log_w))
        self.elbo_sum += elbo.sum(axis=0)
        self.kl_sum += kl.sum(axis=0)
        self.samples += len(log_w)

    def result(self, num_samples: int):
        """LL, mean ELBO and mean KL of the block's images."""
        mean = 1.0 / num_samples
        return self.log_sum - math.log(num_samples), self.elbo_sum * mean, self.kl_sum * mean


def _logsumexp(log_w: np.ndarray) -> np.ndarray:
    """`log sum_k exp(log_w[k])` over axis 0, stable (numpy float64)."""
    top = np.max(log_w, axis=0)
    return top + np.log(np.sum(np.exp(log_w - top), axis=0))


def _as_array(dataset, event_ndims: int) -> np.ndarray:
    """Examples `[n, *event_shape]` (float32) from a dataset of examples or batches (labels
    dropped) or an array; a single example gets a batch axis."""
    if isinstance(dataset, tf.data.Dataset):
        parts = []
        for element in dataset.as_numpy_iterator():
            element = element[0] if isinstance(element, tuple) else element
            parts.append(element if element.ndim == event_ndims + 1 else element[None])
        if not parts:
            raise ValueError("The dataset to evaluate is empty.")
        return np.concatenate(parts).astype(np.float32)
    array = np.asarray(dataset, np.float32)
    if array.ndim == event_ndims:
        array = array[None]
    if len(array) == 0:
        raise ValueError("No images to evaluate.")
    return array


def table1_metrics(
    model: GraphVAE,
    dataset: tf.data.Dataset | np.ndarray,
    num_samples: int = DEFAULT_NUM_SAMPLES,
    *,
    seed: int = 0,
    progress: bool | None = None,
    return_per_image: bool = False,
    **kwargs,
):
    """Table 1's LL, KL and ELBO of a model on a test set (means over images).

    Nats for the Bernoulli likelihood; bits per dimension for the discretised logistic
    (the paper's CIFAR-10 column: `log p(x) / (D ln 2)`, negative, as printed there).
    `ll_sem`, `kl_sem` and `elbo_sem` are standard errors of the means over the images.

    Returns:
        The metrics dict; with `return_per_image`, `(metrics, ll)` where `ll` `[n]` is
        every image's LL in the metrics' unit (for paired comparisons on the same images).
    """
    ll, elbo, kl = log_likelihood(
        model, dataset, num_samples, seed=seed, return_terms=True, progress=progress, **kwargs
    )
    scale = 1.0
    unit = "nats"
    if model.likelihood_name == "discretized_logistic":
        scale, unit = float(bits_per_dim(1.0, math.prod(model.event_shape))), "bits/dim"
    metrics = {}
    for key, values in (("ll", ll), ("kl", kl), ("elbo", elbo)):
        metrics[key], metrics[f"{key}_sem"] = mean_sem(values * scale)
    metrics["num_images"] = len(ll)
    metrics["num_samples"] = int(num_samples)
    metrics["unit"] = unit
    return (metrics, ll * scale) if return_per_image else metrics


def mean_sem(values) -> tuple[float, float]:
    """Mean and standard error of the mean (`std(ddof=1) / sqrt(n)`; 0 for one value)."""
    values = np.asarray(values, np.float64)
    if values.size == 0:
        raise ValueError("mean_sem needs at least one value.")
    sem = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else 0.0
    return float(values.mean()), sem
