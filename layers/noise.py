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
