"""ELU and softplus in forms that XLA on CPU compiles to cheap loops.

Evaluation applies them to every hidden unit and every pixel of every importance sample
(`K = 5,000` per image), so their cost is a large share of everything that is not a
matmul. XLA on CPU lowers `tf.nn.elu` through `expm1` and `tf.nn.softplus` through
`log1p`, both several times the cost of `exp` and `log` (`bench/kernels.py` times them).
The forms here use `exp` and `log` only:

- `elu(x) = x` for `x > 0`, `exp(x) - 1` otherwise. Beside `expm1` it loses at most one
  float32 ulp of 1 (6e-8) in absolute terms, for `x` just below 0, where the unit's
  value is itself below 1e-4; the gradient `exp(x)` is exact.
- `softplus(x) = max(x, 0) + log(1 + exp(-|x|))`. Beside `log1p` the term is off by at
  most 6e-8 nats (for `|x| > 17` it is 0 instead of `exp(-|x|)`), the rounding of a
  float32 sum of a few terms: a Bernoulli log-likelihood of 784 pixels moves by at most
  5e-5 nats, three orders below the Monte Carlo error of a 5,000-sample estimate.

Both take and return tensors of any shape and float dtype (bfloat16 under mixed precision).
`log1p_exp_sum` sums `log(1 + exp(y))` over the last axis (a Bernoulli log-likelihood's
pixels) with one `log` per 16 elements instead of one per element.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tf_graphvae")
def elu(x: tf.Tensor) -> tf.Tensor:
    """The exponential linear unit (alpha 1), the default networks' activation.

    Example:
    >>> keras.layers.Dense(8, activation=elu)
    """
    x = tf.convert_to_tensor(x)
    # min(x, 0) keeps exp from overflowing on the branch where() discards, so that no
    # inf times 0 reaches the gradient.
    return tf.where(x > 0, x, tf.exp(tf.minimum(x, tf.zeros_like(x))) - 1)


@tf.custom_gradient
def softplus(x: tf.Tensor):
    """`log(1 + exp(x))`, stable for any `x` (no overflow: the exponent is `-|x|`).

    Its gradient is `sigmoid(x)`, given explicitly: differentiated as written, the kinks
    of `max` and `|x|` would give 1 instead of 1/2 at `x = 0`.
    """
    x = tf.convert_to_tensor(x)
    value = tf.maximum(x, tf.zeros_like(x)) + tf.math.log(1 + tf.exp(-tf.abs(x)))

    def grad(upstream):
        return upstream * tf.sigmoid(x)

    return value, grad


# Factors 1 + exp(y), y <= 0, lie in (1, 2], so a product of this many stays below 2^16:
# far from float32's overflow (2^128); each product's rounding (<= 16 ulps) moves its
# log by < 1e-6.
LOG_GROUP = 16


def log1p_exp_sum(y: tf.Tensor) -> tf.Tensor:
    """`sum(log(1 + exp(y)), axis=-1)` for `y <= 0`, with one `log` per `LOG_GROUP` elements.

    The `log(1 + exp(-|x|))` part of softplus summed over an axis (a Bernoulli
    log-likelihood's pixels): a sum of logs is the log of a product, so the factors
    `1 + exp(y)` are multiplied in groups of 16 (the last axis cut into 16 equal parts,
    padded with factors of 1) and only the group products are taken to a log. The sum is
    off by at most `n * 6e-8` for `n` elements, as the element-wise sum is. Positive
    entries are taken as 0. The last axis must be known statically; half-precision
    inputs are summed in float32.

    Args:
        y: `[..., n]`, float, `y <= 0`.

    Returns:
        `[...]`.
    """
    y = tf.convert_to_tensor(y)
    n = y.shape[-1]
    if n is None:
        raise ValueError(f"log1p_exp_sum needs a static last axis, got shape {y.shape}.")
    part = -(-n // LOG_GROUP)  # ceil: elements per part
    dtype = y.dtype
    if dtype not in (tf.float32, tf.float64):  # 2^16 would overflow float16's range
        y = tf.cast(y, tf.float32)
    factors = 1 + tf.exp(tf.minimum(y, tf.zeros_like(y)))
    padding = [[0, 0]] * (y.shape.rank - 1) + [[0, part * LOG_GROUP - n]]
    factors = tf.pad(factors, padding, constant_values=1)
    parts = tf.reshape(factors, tf.concat([tf.shape(y)[:-1], [LOG_GROUP, part]], 0))
    return tf.cast(sum_last(tf.math.log(tf.reduce_prod(parts, axis=-2))), dtype)


def sum_last(x: tf.Tensor) -> tf.Tensor:
    """`reduce_sum(x, -1)` as a product with ones: XLA on CPU computes the summands inside
    a multi-threaded dot, where a reduce_sum wrote them all to memory for a separate
    reduction (`bench/profile_evaluation.py` shows the kernels)."""
    return tf.linalg.matvec(x, tf.ones(tf.shape(x)[-1:], x.dtype))
