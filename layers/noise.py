"""The algorithm of the model's bulk stateless draws (binarisation, latent noise).

`tf.random.stateless_*` with the default `alg="auto_select"` and with `alg="philox"` draw
the same numbers in TensorFlow's kernels, and under XLA for seeds whose two halves are
non-negative (with a negative half XLA's two draws differ, equally distributed). Under XLA
the default resolves its key and counter at run time (`StatelessRandomGetKeyCounter`), and
XLA on CPU fused that into a generator loop that ran on one thread and, once the step's
other fusions changed around it, took several times the rest of the training step.
Naming Philox compiles the generator with a static algorithm (`tests/test_model.py`).
Normal draws are the quantile function of Philox uniforms (`normal_quantile`), which XLA
on CPU vectorises, not TensorFlow's Box-Muller transform.
"""

from __future__ import annotations

import tensorflow as tf

STATELESS_ALG = "philox"


def stateless_uniform(shape, seed, dtype=tf.float32) -> tf.Tensor:
    """`Uniform[0, 1)` draws of `shape` from the stateless `seed` `[2]` (Philox)."""
    return tf.random.stateless_uniform(shape, seed=seed, dtype=dtype, alg=STATELESS_ALG)


# Wichura's PPND7 (Applied Statistics algorithm AS 241, 1988), the single-precision
# rational approximations of the standard normal quantile: relative error ~1e-7, a few
# float32 ulps (`tests/test_elementwise.py`). Coefficients lowest power first: the central
# region |u - 1/2| <= 0.425 in r = 0.180625 - (u - 1/2)^2, then the tails in
# s = sqrt(-log(min(u, 1 - u))), below and above s = 5.
_CENTRAL = ((3.3871327179, 50.434271938, 159.29113202, 59.109374720),
            (1.0, 17.895169469, 78.757757664, 67.187563600))  # fmt: skip
_NEAR_TAIL = ((1.4234372777, 2.7568153900, 1.3067284816, 0.17023821103),
              (1.0, 0.73700164250, 0.12021132975))  # fmt: skip
_FAR_TAIL = ((6.6579051150, 3.0812263860, 0.42868294337, 0.017337203997),
             (1.0, 0.24197894225, 0.012258202635))  # fmt: skip


def _rational(coefficients, x: tf.Tensor) -> tf.Tensor:
    """`P(x) / Q(x)`, each polynomial by Horner's rule."""

    def polynomial(c):
        value = tf.fill(tf.shape(x), tf.constant(c[-1], x.dtype))
        for a in reversed(c[:-1]):
            value = value * x + a
        return value

    numerator, denominator = coefficients
    return polynomial(numerator) / polynomial(denominator)


def normal_quantile(u: tf.Tensor) -> tf.Tensor:
    """`Phi^-1(u)` for `u` in (0, 1), element-wise (PPND7; float32 accurate).

    Only `log`, `sqrt` and arithmetic, which XLA on CPU vectorises, where the
    Box-Muller transform of `tf.random.stateless_normal` calls `sin` and `cos` element
    by element (it took 2.4 times as long for the latent noise of an evaluation call,
    `bench/kernels.py`).
    """
    q = u - 0.5
    central = q * _rational(_CENTRAL, 0.180625 - q * q)
    s = tf.sqrt(-tf.math.log(tf.minimum(u, 1.0 - u)))
    tail = tf.where(s <= 5.0, _rational(_NEAR_TAIL, s - 1.6), _rational(_FAR_TAIL, s - 5.0))
    return tf.where(tf.abs(q) <= 0.425, central, tf.where(q < 0, -tail, tail))


def stateless_normal(shape, seed, dtype=tf.float32) -> tf.Tensor:
    """Standard normal draws of `shape` from the stateless `seed` `[2]` (Philox).

    The quantile function of Philox uniforms on the grid `(2m + 1) 2^-24`, symmetric
    about 1/2 and never 0 or 1, so draws lie within +-5.3 (the grid's extreme quantiles;
    a standard normal exceeds them with probability 1e-7). Computed in float32.
    """
    u = stateless_uniform(shape, seed, tf.float32) + 2.0**-24  # exact: 24-bit significands
    return tf.cast(normal_quantile(u), dtype)


def global_rows(draw, rows, row_offset=0, total_rows=None) -> tf.Tensor:
    """This replica's `rows` rows of a draw made for the whole global batch.

    A replica of a data-parallel step draws the random numbers of the whole global batch
    of `total_rows` rows from the step's seed and keeps rows `row_offset ...`, so sharding
    a batch never changes its random numbers (`GraphVAE.replica_rows`). `draw(n)` makes `n` rows;
    with `total_rows=None` the batch is the whole draw.
    """
    if total_rows is None:
        return draw(rows)
    return draw(total_rows)[row_offset : row_offset + rows]
