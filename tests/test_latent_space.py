"""encode / decode / reconstruct / interpolate against the model's own top-down pass."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_model

from tf_graphvae.layers.gated_dag import precision_weighted_merge


@pytest.fixture(scope="module")
def model():
    m = tiny_model("learned", node_dims=[3, 2, 1])
    m.gates.gate_logits.assign([3.0, -3.0, 3.0])  # MAP graph: z2 -> z0 and z1 -> z0
    return m


def test_codes_are_the_noiseless_posterior_means_under_the_map_graph(model, binary_digits):
    x = binary_digits[:8]
    mean, scale = model.encode(x, return_scale=True)
    assert mean.shape == scale.shape == (8, 6) and np.all(scale > 0)
    per_node = model.encode(x, per_node=True)
    assert per_node.shape == (8, 3, 3) and np.all(per_node[:, 1, 2:] == 0)
    np.testing.assert_array_equal(mean, np.concatenate(
        [per_node[:, 0, :3], per_node[:, 1, :2], per_node[:, 2, :1]], axis=-1))  # fmt: skip
    # The same pass by hand: the MAP gates, node by node from the root, each node's prior
    # given its parents' posterior means, merged with the bottom-up estimate.
    map_graph = tf.constant([[0, 0, 0], [1, 0, 0], [1, 0, 0]], tf.float32)
    gates = tf.tile(map_graph[None], [8, 1, 1])
    data_mean, data_log_var = model.bottom_up(tf.constant(x))
    means = [None, None, None]
    for j in (2, 1, 0):
        p_mean, p_log_var = model.dag.node_prior(j, means[j + 1 :], gates)
        q_mean, _ = precision_weighted_merge(
            p_mean, p_log_var, data_mean[:, j], data_log_var[:, j]
        )  # the root's prior is N(0, I)
        means[j] = model.dag.zero_padding(q_mean, j)
    np.testing.assert_allclose(per_node, tf.stack(means, axis=1), rtol=1e-5, atol=1e-6)
    # Another structure gives another code for the nodes with parents, not for the root.
    other = model.encode(x, per_node=True, gates=np.zeros([3, 3]))
    np.testing.assert_allclose(other[:, 2], per_node[:, 2], rtol=1e-6)
    assert not np.allclose(other[:, 0], per_node[:, 0])


def test_decode_reconstruct_interpolate(model, binary_digits):
    x_a, x_b = binary_digits[:4], binary_digits[4:8]
    codes = model.encode(x_a)
    images = model.decode(codes)
    assert images.shape == (4, 8, 8, 1) and np.all((images >= 0) & (images <= 1))
    np.testing.assert_allclose(images, model.decode(model.encode(x_a, per_node=True)), atol=1e-6)
    np.testing.assert_allclose(model.reconstruct(x_a), images, atol=1e-6)
    path = model.interpolate(x_a, x_b, steps=5)
    assert path.shape == (4, 5, 8, 8, 1)
    np.testing.assert_allclose(path[:, 0], images, atol=1e-5)
    np.testing.assert_allclose(path[:, -1], model.reconstruct(x_b), atol=1e-5)
    with pytest.raises(ValueError, match="Codes must be"):
        model.decode(np.zeros([2, 7]))
    with pytest.raises(ValueError, match="steps must be"):
        model.interpolate(x_a, x_b, steps=1)
    with pytest.raises(ValueError, match="as many images"):
        model.interpolate(x_a, x_b[:2])
