"""Likelihood heads `p(x | z)`: Bernoulli for binary images, discretised logistic for 8-bit.

A head turns the decoder's raw output `[B, H, W, C * k]` into a TFP distribution over
images `[B, H, W, C]` whose event is the whole image, so `log_prob` is one number
per example.
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tf_graphvae.model_config import LIKELIHOODS

tfd = tfp.distributions
tfb = tfp.bijectors


def validate_likelihood(likelihood: str) -> str:
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"Unknown likelihood {likelihood!r}; expected one of {LIKELIHOODS}.")
    return likelihood


@keras.saving.register_keras_serializable(package="tf_graphvae")
class BernoulliLikelihood(keras.layers.Layer):
    """Independent Bernoulli pixels with logits from the decoder; images in {0, 1}.

    Call arguments:
        params: decoder output `[B, H, W, C]` (logits).

    Output:
        the mean image `sigmoid(logits)`, `[B, H, W, C]`.
    """

    params_per_channel = 1
    value_range = (0.0, 1.0)

    def distribution(self, params) -> tfd.Distribution:
        return tfd.Independent(tfd.Bernoulli(logits=params, dtype=params.dtype), 3)

    def log_prob(self, params, x) -> tf.Tensor:
        """`log p(x | z)` per example, `[B]`, in nats.

        The Bernoulli log-mass in closed form, `x * l - softplus(l)` summed over pixels
        (`l` the logits): the value `distribution(params).log_prob(x)` returns
        (`tests/test_model.py` checks it), at one softplus per pixel. This is the
        innermost term of evaluation (every pixel of every importance sample), where
        `tfd.Bernoulli.log_prob` took about twice as long under XLA on CPU. For `x` in
        [0, 1] it is the negative binary cross-entropy.
        """
        x = tf.cast(x, params.dtype)
        # One flat pixel axis: XLA then fuses the elementwise terms into the reduction
        # (over [H, W, C] it wrote every term to memory and summed it single-threaded).
        logits = tf.reshape(params, tf.concat([tf.shape(params)[:-3], [-1]], 0))
        x = tf.reshape(x, tf.concat([tf.shape(x)[:-3], [-1]], 0))
        return tf.reduce_sum(x * logits - tf.nn.softplus(logits), axis=-1)

    def call(self, params):
        return tf.sigmoid(params)


@keras.saving.register_keras_serializable(package="tf_graphvae")
class DiscretizedLogisticLikelihood(keras.layers.Layer):
    """A logistic per sub-pixel, discretised on the 256 bins of 8-bit images.

    Images take the integer values 0..255. The bin of value `x` is `[x - 0.5, x + 0.5]`;
    the two edge bins absorb the tails (`x = 0` takes `(-inf, 0.5]`, `x = 255` takes
    `[254.5, inf)`), so the 256 probabilities sum to one. TFP computes each bin's mass
    from log-CDF differences in log space (`tfd.QuantizedDistribution`).

    The decoder's two outputs per sub-pixel are mapped to a location in [0, 255]
    (`255 * sigmoid`) and a scale `softplus(raw + 2) + 0.01` pixels (a few pixels at
    initialisation, never 0).

    Call arguments:
        params: decoder output `[B, H, W, 2 * C]`.

    Output:
        the location image, `[B, H, W, C]`, values in [0, 255].
    """

    params_per_channel = 2
    value_range = (0.0, 255.0)

    def _loc_scale(self, params):
        shape = tf.shape(params)
        params = tf.reshape(params, tf.concat([shape[:-1], [shape[-1] // 2, 2]], 0))
        loc = 255.0 * tf.sigmoid(params[..., 0])
        scale = tf.nn.softplus(params[..., 1] + 2.0) + 0.01
        return loc, scale

    def distribution(self, params) -> tfd.Distribution:
        loc, scale = self._loc_scale(params)
        shifted = tfd.TransformedDistribution(tfd.Logistic(loc, scale), tfb.Shift(-0.5))
        return tfd.Independent(tfd.QuantizedDistribution(shifted, low=0.0, high=255.0), 3)

    def log_prob(self, params, x) -> tf.Tensor:
        """`log p(x | z)` per example, `[B]`, in nats."""
        return self.distribution(params).log_prob(tf.round(x))

    def call(self, params):
        return self._loc_scale(params)[0]


def make_likelihood(likelihood: str, **kwargs) -> keras.layers.Layer:
    """The head layer named `likelihood`."""
    validate_likelihood(likelihood)
    cls = BernoulliLikelihood if likelihood == "bernoulli" else DiscretizedLogisticLikelihood
    return cls(**kwargs)
