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
