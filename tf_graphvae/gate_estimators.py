"""Gradient estimators for the gate logits (docs: structure learning).

The relaxed (Concrete) estimator differentiates through `sigmoid((logit + L) / tau)`
(Eq. 2): low variance, biased for tau > 0. The score-function estimator keeps the gates
hard in the forward pass and uses `grad E_c[f(c)] = E_c[f(c) grad log p(c)]` (Williams,
1992), unbiased; with `S >= 2` gate samples per example the leave-one-out baseline
`b_s = mean_{k != s} f_k` (Kool et al., 2019) removes most of its variance and keeps it
unbiased, because `b_s` does not depend on `c_s`.

Each estimator is a small registered object (`GateEstimator`): a new one is a subclass
with `@register` (in this file or its own) and its name in `config.GATE_ESTIMATORS` (the
choice list the flags and the configuration validate against, without TensorFlow);
`tests/test_gate_estimators.py` checks that the two lists agree.
"""

from __future__ import annotations

from typing import ClassVar

import tensorflow as tf


class GateEstimator:
    """How a training step differentiates the expected objective in the gate logits.

    Attributes:
        name: the `gate_estimator` setting that selects it.
        relaxed: whether the training pass draws relaxed gates (differentiable in the
            logits); otherwise hard Bernoulli gates.
        own_gradient: whether the logits' gradient comes from `objective` rather than
            from the networks' loss (the step then takes it apart).
    """

    name: ClassVar[str]
    relaxed: ClassVar[bool]
    own_gradient: ClassVar[bool]

    def objective(self, model, terms: dict, f: tf.Tensor) -> tf.Tensor:
        """A scalar whose gradient in `model.gates.gate_logits` estimates
        `-grad mean E_c[f]`; `f` `[rows]` the objective per row, `terms` the pass's."""
        raise NotImplementedError


REGISTRY: dict[str, GateEstimator] = {}


def register(cls: type[GateEstimator]) -> type[GateEstimator]:
    """Class decorator: makes `cls` selectable by `gate_estimator=cls.name`."""
    if cls.name in REGISTRY:
        raise ValueError(f"A gate estimator named {cls.name!r} is registered already.")
    REGISTRY[cls.name] = cls()
    return cls


def get(name: str) -> GateEstimator:
    """The registered estimator called `name`."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"Unknown gate estimator {name!r}; registered: {', '.join(REGISTRY)}."
        ) from None


@register
class Concrete(GateEstimator):
    """The relaxed (Concrete) gates of Eq. (2): the gradient flows through the sample."""

    name = "concrete"
    relaxed = True
    own_gradient = False

    def objective(self, model, terms, f):
        return -tf.reduce_mean(f)


@register
class ScoreFunction(GateEstimator):
    """Hard gates and the leave-one-out score-function estimate (`gate_samples >= 2`)."""

    name = "score_function"
    relaxed = False
    own_gradient = True

    def objective(self, model, terms, f):
        edges = model.gates.edge_values(terms["gates"])
        log_prob = bernoulli_log_prob(edges, model.gates.gate_logits)
        return -leave_one_out_surrogate(f, log_prob, model.gate_samples)


def bernoulli_log_prob(edges: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """`log p(c) = sum_e c_e l_e - softplus(l_e)` of hard gates `edges` `[B, E]`, `[B]`."""
    return tf.reduce_sum(edges * logits - tf.nn.softplus(logits), axis=-1)


def leave_one_out_surrogate(f: tf.Tensor, log_prob: tf.Tensor, num_samples: int) -> tf.Tensor:
    """A scalar whose gradient in the logits is the leave-one-out score-function estimate
    of `grad mean_b E_c[f]`.

    Args:
        f: `[S * B]` the objective of each row (rows `k * B + b`: sample `k` of example `b`);
            not differentiated.
        log_prob: `[S * B]` `log p(c)` of each row's hard gates (differentiable in the logits).
        num_samples: `S >= 2`.

    Returns:
        `mean_{s, b} (f_sb - b_sb) log p(c_sb)`, with `b_sb` the mean of the other samples'
        `f` for example `b`.
    """
    if num_samples < 2:
        raise ValueError("The leave-one-out baseline needs at least 2 gate samples per example.")
    f = tf.reshape(tf.stop_gradient(f), [num_samples, -1])
    baseline = (tf.reduce_sum(f, axis=0, keepdims=True) - f) / (num_samples - 1)
    advantage = tf.reshape(f - baseline, [-1])
    return tf.reduce_mean(advantage * log_prob)


def edge_penalty(logits: tf.Tensor, edge_cost) -> tf.Tensor:
    """`sum_e cost_e mu_e`: the expected price of the edges under `p(c)` in nats per
    example, i.e. `-E_c log p_prior(c)` up to a constant for a prior that charges `cost_e`
    nats for edge `e` when present. `edge_cost`: one price for every edge, or `[E]`."""
    cost = tf.cast(edge_cost, logits.dtype)
    return tf.reduce_sum(cost * tf.sigmoid(logits))
