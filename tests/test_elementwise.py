"""The cheap element-wise forms (ELU, softplus) and the closed-form node densities agree
with TensorFlow's and TFP's own, in value and gradient, eagerly and under XLA."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tf_graphvae.layers.elementwise import elu, softplus
from tf_graphvae.layers.gated_dag import LOG_VARIANCE_BOUND, normal_kl, normal_log_prob

FLOAT32_ULP_OF_ONE = float(np.finfo(np.float32).eps)


def _grid(dtype) -> tf.Tensor:
    """Points across the range a network produces, the kink at 0 and overflow territory."""
    rng = np.random.default_rng(0)
    special = [0.0, 1e-8, -1e-8, 1e-4, -1e-4, 17.0, -17.0, 88.0, -88.0, 1e3, -1e3]
    values = np.concatenate([special, rng.normal(scale=8.0, size=2000)])
    return tf.constant(values, dtype)


def _value_and_grad(fn, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return y, tape.gradient(y, x)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_elu_is_tf_elu(jit_compile):
    x = _grid(tf.float32)
    got, got_grad = tf.function(lambda x: _value_and_grad(elu, x), jit_compile=jit_compile)(x)
    want, want_grad = _value_and_grad(tf.nn.elu, x)
    # exp(x) - 1 against expm1: at most an ulp of 1 apart, absolutely.
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=FLOAT32_ULP_OF_ONE)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-6, atol=1e-7)
    assert np.all(np.isfinite(got_grad))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_softplus_is_tf_softplus_with_the_sigmoid_gradient(jit_compile):
    # float32: XLA's sigmoid and exp may differ from the eager kernels' by an ulp.
    for dtype, atol, rtol in ((tf.float64, 1e-15, 1e-12), (tf.float32, FLOAT32_ULP_OF_ONE, 1e-6)):
        x = _grid(dtype)
        fn = tf.function(lambda x: _value_and_grad(softplus, x), jit_compile=jit_compile)
        got, got_grad = fn(x)
        np.testing.assert_allclose(got, tf.nn.softplus(x), rtol=rtol, atol=atol)
        np.testing.assert_allclose(got_grad, tf.sigmoid(x), rtol=rtol, atol=1e-300)
    # At the kink both one-sided derivatives meet at 1/2.
    assert float(_value_and_grad(softplus, tf.constant(0.0))[1]) == 0.5


def test_elementwise_forms_keep_bfloat16():
    x = tf.constant([-3.0, -0.5, 0.0, 0.5, 3.0], tf.bfloat16)
    exact = tf.cast(x, tf.float64)
    for fn, reference in ((elu, tf.nn.elu), (softplus, tf.nn.softplus)):
        got = fn(x)
        assert got.dtype == tf.bfloat16
        # Within a few bfloat16 roundings (8 significant bits) of the float64 value.
        np.testing.assert_allclose(
            tf.cast(got, tf.float64), reference(exact), rtol=2**-6, atol=2**-8
        )


def _gaussians(rng, shape):
    """Means and log-variances across the bounded range the model produces."""
    bound = LOG_VARIANCE_BOUND
    means = rng.normal(scale=3.0, size=(2, *shape))
    log_vars = rng.uniform(-bound, bound, size=(2, *shape))
    return [tf.constant(a, tf.float64) for a in (means[0], log_vars[0], means[1], log_vars[1])]


def _tfp_normal(mean, log_var):
    scale = tf.exp(0.5 * log_var)
    return tfp.distributions.Independent(tfp.distributions.Normal(mean, scale), 1)


def test_normal_log_prob_is_tfp_normal():
    rng = np.random.default_rng(1)
    mean, log_var, _, _ = _gaussians(rng, (50, 5, 10))
    z = mean + tf.exp(0.5 * log_var) * rng.normal(size=mean.shape)
    got = normal_log_prob(z, mean, log_var)
    assert got.shape == (50, 5)
    np.testing.assert_allclose(got, _tfp_normal(mean, log_var).log_prob(z), rtol=1e-10)


def test_normal_kl_is_tfp_kl():
    rng = np.random.default_rng(2)
    q_mean, q_log_var, p_mean, p_log_var = _gaussians(rng, (50, 5, 10))
    got = normal_kl(q_mean, q_log_var, p_mean, p_log_var)
    want = tfp.distributions.kl_divergence(
        _tfp_normal(q_mean, q_log_var), _tfp_normal(p_mean, p_log_var)
    )
    assert got.shape == (50, 5)
    np.testing.assert_allclose(got, want, rtol=1e-9)
    np.testing.assert_allclose(normal_kl(q_mean, q_log_var, q_mean, q_log_var), 0.0, atol=1e-12)
