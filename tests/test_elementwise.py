"""The cheap element-wise forms (ELU, softplus) and the closed-form node densities agree
with TensorFlow's and TFP's own, in value and gradient, eagerly and under XLA."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tf_graphvae.layers.elementwise import LOG_GROUP, elu, log1p_exp_sum, softplus
from tf_graphvae.layers.gated_dag import LOG_VARIANCE_BOUND, node_densities, normal_kl
from tf_graphvae.layers.noise import normal_quantile, stateless_normal

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


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("n", [1, 15, 16, 17, 784, 1000])
def test_log1p_exp_sum_is_the_sum_of_log1p_exp(n, jit_compile):
    """The grouped-product sum against float64 `log1p(exp(y))` summed, for axes shorter
    than, equal to and not a multiple of the group: within n float32 roundings."""
    rng = np.random.default_rng(n)
    y = -np.abs(rng.normal(scale=6.0, size=(3, n)))
    y[0, : min(n, LOG_GROUP)] = 0.0  # the largest factors, 2 each: the product's bound
    want = np.sum(np.log1p(np.exp(y)), axis=-1)
    fn = tf.function(log1p_exp_sum, jit_compile=jit_compile)
    got = fn(tf.constant(y, tf.float32))
    np.testing.assert_allclose(got, want, rtol=0, atol=n * 2 * FLOAT32_ULP_OF_ONE)
    np.testing.assert_allclose(fn(tf.constant(y)), want, rtol=1e-13)
    half = log1p_exp_sum(tf.constant(y, tf.float16))
    assert half.dtype == tf.float16 and np.all(np.isfinite(half.numpy()))
    with pytest.raises(ValueError, match="static last axis"):
        tf.function(log1p_exp_sum).get_concrete_function(tf.TensorSpec([3, None]))


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


def test_node_densities_are_tfp_normal():
    """The model's closed-form `log q` (from the noise), `log p` and per-node KL against
    `tfd.Normal`'s, summed over the nodes."""
    rng = np.random.default_rng(1)
    q_mean, q_log_var, p_mean, p_log_var = _gaussians(rng, (50, 5, 10))
    noise = tf.constant(rng.normal(size=q_mean.shape))
    z = q_mean + tf.exp(0.5 * q_log_var) * noise
    nodes = dict(z=z, noise=noise, q_mean=q_mean, q_log_var=q_log_var, p_mean=p_mean,
                 p_log_var=p_log_var)  # fmt: skip
    kl, log_q, log_p = node_densities(nodes)
    q, p = _tfp_normal(q_mean, q_log_var), _tfp_normal(p_mean, p_log_var)
    assert kl.shape == (50, 5) and log_q.shape == log_p.shape == (50,)
    np.testing.assert_allclose(log_q, tf.reduce_sum(q.log_prob(z), -1), rtol=1e-10)
    np.testing.assert_allclose(log_p, tf.reduce_sum(p.log_prob(z), -1), rtol=1e-10)
    np.testing.assert_allclose(kl, tfp.distributions.kl_divergence(q, p), rtol=1e-9)


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


@pytest.mark.parametrize("jit_compile", [False, True])
def test_normal_quantile_is_float32_accurate(jit_compile):
    """PPND7 against TFP's float64 quantile, over the whole float32 uniform grid's range:
    the branch points, both extremes and 20,000 tail points."""
    rng = np.random.default_rng(3)
    u = np.concatenate(
        [
            [2.0**-24, 1 - 2.0**-24, 0.5, 0.075, 0.925, 0.0749, 0.9251],
            rng.uniform(size=20_000),
            np.exp(-rng.uniform(1.0, 16.6, size=20_000)),  # down to the grid's smallest
        ]
    ).astype(np.float32)
    got = tf.function(normal_quantile, jit_compile=jit_compile)(tf.constant(u)).numpy()
    want = tfp.distributions.Normal(np.float64(0), 1).quantile(u.astype(np.float64)).numpy()
    # A few float32 ulps, relative (absolute near the median, where Phi^-1 is ~0).
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_stateless_normal_draws_a_standard_normal():
    n = 200_000
    draw = tf.function(lambda seed: stateless_normal([n], seed), jit_compile=True)
    z = draw(tf.constant([1, 2])).numpy().astype(np.float64)
    np.testing.assert_array_equal(z, draw(tf.constant([1, 2])).numpy())  # stateless
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    assert np.abs(z).max() < 5.33  # the grid's extreme quantiles
    # Kolmogorov-Smirnov: below the 0.1% critical value 1.95 / sqrt(n).
    cdf = tfp.distributions.Normal(np.float64(0), 1).cdf(np.sort(z)).numpy()
    ranks = np.arange(1, n + 1) / n
    statistic = max(np.max(ranks - cdf), np.max(cdf - (ranks - 1 / n)))
    assert statistic < 1.95 / np.sqrt(n)
