"""The algorithm of the model's bulk stateless draws (binarisation, latent noise).

`tf.random.stateless_*` with the default `alg="auto_select"` and with `alg="philox"`
draw the same numbers, both in TensorFlow's kernels and under XLA, but under XLA the
default resolves its key and counter at run time (`StatelessRandomGetKeyCounter`), and
XLA on CPU fused that into a generator loop that ran on one thread and, once the step's
other fusions changed around it, took several times the rest of the training step.
Naming Philox compiles the generator with a static algorithm; no draw changes
(`tests/test_model.py`).
"""

from __future__ import annotations

import tensorflow as tf

STATELESS_ALG = "philox"


def stateless_uniform(shape, seed, dtype=tf.float32) -> tf.Tensor:
    """`Uniform[0, 1)` draws of `shape` from the stateless `seed` `[2]` (Philox)."""
    return tf.random.stateless_uniform(shape, seed=seed, dtype=dtype, alg=STATELESS_ALG)


def stateless_normal(shape, seed, dtype=tf.float32) -> tf.Tensor:
    """Standard normal draws of `shape` from the stateless `seed` `[2]` (Philox)."""
    return tf.random.stateless_normal(shape, seed=seed, dtype=dtype, alg=STATELESS_ALG)


def global_rows(draw, rows, row_offset=0, total_rows=None) -> tf.Tensor:
    """This replica's `rows` rows of a draw made for the whole global batch.

    A replica of a data-parallel step draws the random numbers of the whole global batch
    of `total_rows` rows from the step's seed and keeps rows `row_offset ...`, so sharding
    a batch never changes its random numbers (`GraphVAE._shard`). `draw(n)` makes `n` rows;
    with `total_rows=None` the batch is the whole draw.
    """
    if total_rows is None:
        return draw(rows)
    return draw(total_rows)[row_offset : row_offset + rows]
