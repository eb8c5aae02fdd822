"""Gate estimators as registered objects (`tf_graphvae/gate_estimators.py`)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_model

from tf_graphvae import gate_estimators
from tf_graphvae.config import GATE_ESTIMATORS


def test_the_registry_and_the_configuration_name_the_same_estimators():
    assert tuple(gate_estimators.REGISTRY) == GATE_ESTIMATORS
    for name, estimator in gate_estimators.REGISTRY.items():
        assert estimator.name == name and isinstance(estimator, gate_estimators.GateEstimator)
    with pytest.raises(ValueError, match="Unknown gate estimator 'reinforce'; registered: "):
        gate_estimators.get("reinforce")
    with pytest.raises(ValueError, match="registered already"):
        gate_estimators.register(gate_estimators.Concrete)


def test_each_estimator_s_gradient_reaches_the_gate_logits(binary_digits):
    """The model reads the estimator's object: relaxed gates and the objective's gradient
    for the Concrete estimator, hard gates and a score-function gradient for the other."""
    x = tf.constant(binary_digits[:16])
    for name, samples in (("concrete", 1), ("score_function", 2)):
        model = tiny_model("learned", gate_estimator=name, gate_samples=samples)
        model.compile(optimizer="adam", jit_compile=False)
        grad = model.gate_gradient(x).numpy()
        assert grad.shape == (3,) and np.all(np.isfinite(grad)) and np.any(grad != 0), name
        gates = model.forward(model._training_rows(x), training=True)["gates"].numpy()
        hard = np.all((gates == 0) | (gates == 1))
        assert hard != gate_estimators.get(name).relaxed, name
        assert model._gate_gradient_apart == gate_estimators.get(name).own_gradient, name
