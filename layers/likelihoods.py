"""Likelihood heads `p(x | z)`: Bernoulli (binary data), discretised logistic (8-bit images),
Gaussian (continuous data), or a user's function that returns a TFP distribution.

A head turns the decoder's raw output into a TFP distribution whose event is one whole
example of shape `event_shape`, so `log_prob` is one number per example. The decoder's
output has the shape `params_shape(event_shape)`: the event shape with its last axis
multiplied by the head's `params_per_channel` (1 for Bernoulli logits, 2 for a location
and a scale).
"""

from __future__ import annotations

import math
import re

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tf_graphvae.config import LIKELIHOODS, VALUE_RANGES
from tf_graphvae.layers.elementwise import log1p_exp_sum, softplus, sum_last

tfd = tfp.distributions
tfb = tfp.bijectors


def validate_likelihood(likelihood) -> str:
    if callable(likelihood):
        return likelihood
    if likelihood not in LIKELIHOODS:
        raise ValueError(
            f"Unknown likelihood {likelihood!r}; expected one of {LIKELIHOODS} or a function "
            "from decoder outputs to a TFP distribution."
        )
    return likelihood


class _Head(keras.layers.Layer):
    """What every head shares: the event rank and the decoder's output shape."""

    params_per_channel = 1
    value_range = (-math.inf, math.inf)

    def __init__(self, event_ndims: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.event_ndims = int(event_ndims)

    def params_shape(self, event_shape) -> tuple[int, ...]:
        event_shape = tuple(event_shape)
        return (*event_shape[:-1], event_shape[-1] * self.params_per_channel)

    def _split(self, params):
        """`[..., 2 C]` -> two `[..., C]` tensors (the pairs are adjacent)."""
        shape = tf.shape(params)
        params = tf.reshape(params, tf.concat([shape[:-1], [shape[-1] // 2, 2]], 0))
        return params[..., 0], params[..., 1]

    def get_config(self):
        return {**super().get_config(), "event_ndims": self.event_ndims}


@tf.custom_gradient
def bernoulli_log_mass(logits: tf.Tensor, x: tf.Tensor):
    """`sum(x * l - softplus(l), axis=-1)`, the Bernoulli log-mass of `x` under logits `l`.

    `softplus(l) = max(l, 0) + log(1 + exp(-|l|))`: the linear parts are summed in one
    product with ones and the logs by `log1p_exp_sum` (one `log` per 16 pixels). The
    gradient is given in closed form, `x - sigmoid(l)` for the logits and `l` for `x`
    (as written, the kinks of `max` and `|l|` would give the wrong one-sided value at
    `l = 0`, and the group products' gradient would go through `reduce_prod`).

    Args:
        logits, x: `[..., P]`, the pixels on the last axis (known statically).

    Returns:
        `[...]`.
    """
    value = sum_last(x * logits - tf.maximum(logits, tf.zeros_like(logits)))
    value -= log1p_exp_sum(-tf.abs(logits))

    def grad(upstream):
        upstream = upstream[..., None]
        d_logits, d_x = upstream * (x - tf.sigmoid(logits)), upstream * logits
        return _sum_to_shape(d_logits, logits), _sum_to_shape(d_x, x)

    return value, grad


def _sum_to_shape(grad: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """The gradient of a broadcast input: `grad` summed over the axes `like` was broadcast
    along (evaluation broadcasts an image against its importance samples' logits)."""
    _, axes = tf.raw_ops.BroadcastGradientArgs(s0=tf.shape(grad), s1=tf.shape(like))
    return tf.reshape(tf.reduce_sum(grad, axis=axes), tf.shape(like))


@keras.saving.register_keras_serializable(package="tf_graphvae")
class BernoulliLikelihood(_Head):
    """Independent Bernoulli pixels with logits from the decoder; images in {0, 1}.

    Call arguments:
        params: decoder output `[B, *event_shape]` (logits).

    Output:
        the mean `sigmoid(logits)`, `[B, *event_shape]`.
    """

    params_per_channel = 1
    value_range = VALUE_RANGES["bernoulli"]

    def distribution(self, params) -> tfd.Distribution:
        bernoulli = tfd.Bernoulli(logits=params, dtype=params.dtype)
        return tfd.Independent(bernoulli, self.event_ndims)

    def log_prob(self, params, x) -> tf.Tensor:
        """`log p(x | z)` per example, `[B]`, in nats.

        The Bernoulli log-mass in closed form, `sum x * l - sum softplus(l)` over pixels
        (`l` the logits): the value `distribution(params).log_prob(x)` returns
        (`tests/test_model.py` checks it), with one `exp` per pixel and one `log` per 16
        (`bernoulli_log_mass`). This is the innermost term of evaluation (every
        pixel of every importance sample), where `tfd.Bernoulli.log_prob` took about
        twice as long under XLA on CPU. For `x` in [0, 1] it is the negative binary
        cross-entropy.
        """
        x = tf.cast(x, params.dtype)
        n = self.event_ndims
        pixels = math.prod(params.shape[-n:]) if params.shape[-n:].is_fully_defined() else -1
        logits = tf.reshape(params, tf.concat([tf.shape(params)[:-n], [pixels]], 0))
        x = tf.reshape(x, tf.concat([tf.shape(x)[:-n], [pixels]], 0))
        if pixels == -1:  # a pixel count known only at run time
            return tf.reduce_sum(x * logits - softplus(logits), axis=-1)
        return bernoulli_log_mass(logits, x)

    def call(self, params):
        return tf.sigmoid(params)


@keras.saving.register_keras_serializable(package="tf_graphvae")
class DiscretizedLogisticLikelihood(_Head):
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
    value_range = VALUE_RANGES["discretized_logistic"]

    def _loc_scale(self, params):
        raw_loc, raw_scale = self._split(params)
        return 255.0 * tf.sigmoid(raw_loc), tf.nn.softplus(raw_scale + 2.0) + 0.01

    def distribution(self, params) -> tfd.Distribution:
        loc, scale = self._loc_scale(params)
        shifted = tfd.TransformedDistribution(tfd.Logistic(loc, scale), tfb.Shift(-0.5))
        quantized = tfd.QuantizedDistribution(shifted, low=0.0, high=255.0)
        return tfd.Independent(quantized, self.event_ndims)

    def log_prob(self, params, x) -> tf.Tensor:
        """`log p(x | z)` per example, `[B]`, in nats."""
        return self.distribution(params).log_prob(tf.round(x))

    def call(self, params):
        return self._loc_scale(params)[0]


@keras.saving.register_keras_serializable(package="tf_graphvae")
class GaussianLikelihood(_Head):
    """Independent Gaussians with a learned variance per dimension, for continuous data.

    The decoder's two outputs per dimension are the mean and a raw scale mapped to
    `softplus(raw) + 1e-3` (never 0), on the standardised scale. With `shift` and `scale`
    (the data's mean and std per feature, flattened), the distribution is that Gaussian
    mapped back to the data's units, `Normal(shift + scale * loc, scale * sigma)`: its
    density of raw `x` is the standardised one times `1 / prod(scale)`, exactly.

    Args:
        shift, scale: per-feature mean and std of the data (None: the data are used as
            they are, and should be standardised).

    Call arguments:
        params: decoder output `[B, ..., 2 * C]`.

    Output:
        the mean, `[B, *event_shape]`.
    """

    params_per_channel = 2
    value_range = VALUE_RANGES["gaussian"]

    def __init__(self, event_ndims: int = 3, shift=None, scale=None, **kwargs):
        super().__init__(event_ndims=event_ndims, **kwargs)
        if (shift is None) != (scale is None):
            raise ValueError("shift and scale are given together, or neither.")
        self.shift = None if shift is None else [float(v) for v in shift]
        self.scale = None if scale is None else [float(v) for v in scale]

    def _affine(self, params, loc, sigma):
        if self.shift is None:
            return loc, sigma
        event = tf.shape(loc)[tf.rank(loc) - self.event_ndims :]
        shift = tf.reshape(tf.constant(self.shift, params.dtype), event)
        scale = tf.reshape(tf.constant(self.scale, params.dtype), event)
        return shift + scale * loc, scale * sigma

    def distribution(self, params) -> tfd.Distribution:
        loc, raw_scale = self._split(params)
        loc, sigma = self._affine(params, loc, tf.nn.softplus(raw_scale) + 1e-3)
        return tfd.Independent(tfd.Normal(loc, sigma), self.event_ndims)

    def log_prob(self, params, x) -> tf.Tensor:
        """`log p(x | z)` per example, `[B]`, in nats (a density)."""
        return self.distribution(params).log_prob(tf.cast(x, params.dtype))

    def call(self, params):
        loc, raw_scale = self._split(params)
        return self._affine(params, loc, raw_scale)[0]

    def get_config(self):
        return {**super().get_config(), "shift": self.shift, "scale": self.scale}


@keras.saving.register_keras_serializable(package="tf_graphvae")
class CustomLikelihood(_Head):
    """A user's likelihood: `make_distribution(decoder_output)` returns a TFP distribution
    whose batch shape is `[B]` and whose event is one example (`event_shape`).

    The function must be registered with Keras to save the model
    (`keras.saving.register_keras_serializable` on it; `check_serializable` refuses the
    save otherwise); `params_shape` is whatever the decoder gives it, checked when the
    model is built.
    """

    def __init__(self, make_distribution, event_ndims: int = 3, **kwargs):
        super().__init__(event_ndims=event_ndims, **kwargs)
        self.make_distribution = make_distribution

    def params_shape(self, event_shape):
        return None  # the decoder's own; checked through the distribution's event shape

    def distribution(self, params) -> tfd.Distribution:
        return self.make_distribution(params)

    def log_prob(self, params, x) -> tf.Tensor:
        return self.distribution(params).log_prob(tf.cast(x, params.dtype))

    def call(self, params):
        return self.distribution(params).mean()

    def get_config(self):
        check_serializable(self.make_distribution)
        return {
            **super().get_config(),
            "make_distribution": keras.saving.serialize_keras_object(self.make_distribution),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["make_distribution"] = keras.saving.deserialize_keras_object(
            config["make_distribution"]
        )
        return cls(**config)


_HEADS = {
    "bernoulli": BernoulliLikelihood,
    "discretized_logistic": DiscretizedLogisticLikelihood,
    "gaussian": GaussianLikelihood,
}


def make_likelihood(likelihood, event_ndims: int = 3, **kwargs) -> keras.layers.Layer:
    """The head layer named `likelihood`, or a `CustomLikelihood` around a function."""
    validate_likelihood(likelihood)
    if callable(likelihood):
        return CustomLikelihood(likelihood, event_ndims=event_ndims, **kwargs)
    return _HEADS[likelihood](event_ndims=event_ndims, **kwargs)


def check_distribution(head, params, event_shape) -> None:
    """Raises a ValueError unless `head` makes from `params` a distribution over examples of
    `event_shape` with one batch axis."""
    dist = head.distribution(params)
    got = tuple(dist.event_shape)
    if got != tuple(event_shape) or len(dist.batch_shape) != 1:
        raise ValueError(
            f"The likelihood must give one distribution per example with event shape "
            f"{tuple(event_shape)}; from decoder outputs {list(np.shape(params))} it gives "
            f"batch shape {list(dist.batch_shape)} and event shape {list(got)}."
        )


def check_serializable(make_distribution) -> None:
    """Raises a ValueError unless a user's likelihood function is registered with Keras.

    Keras saves an unregistered function by its bare name, and a loaded model cannot find
    it (a TypeError that prints the model's whole configuration): the save is refused
    instead, while the model is still in memory. Callable objects are saved through their
    class's `get_config`, as Keras does.
    """
    name = getattr(make_distribution, "__name__", None)
    if name is None:
        return
    registered = keras.saving.get_registered_name(make_distribution)
    if keras.saving.get_registered_object(registered) is make_distribution:
        return
    raise ValueError(
        f"The likelihood function {name!r} is not registered with Keras, so a saved model "
        "could not find it when loaded: define it at module level with "
        "@keras.saving.register_keras_serializable(package='my_project') above its def, "
        "and import that module before keras.models.load_model."
    )


def deserialize_user_object(what: str, config: dict):
    """A saved model's own encoder, decoder or likelihood function from its Keras config;
    a one-line ValueError naming the class or function Keras cannot find, and the fix
    (Keras's TypeError prints the model's whole configuration)."""
    try:
        return keras.saving.deserialize_keras_object(config)
    except TypeError as error:
        missing = re.search(r"Could not locate (?:class|function) '([^']+)'", str(error))
        if missing is None:
            raise
        raise ValueError(
            f"The saved model's {what} uses {missing[1]!r}, which is not registered with "
            "Keras: import the module that defines it (decorated with "
            "@keras.saving.register_keras_serializable()) before loading, or pass "
            f"keras.models.load_model(..., custom_objects={{{missing[1]!r}: ...}})."
        ) from None
