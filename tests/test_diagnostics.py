"""Per-node KL (training and validation, every epoch) and active units per node."""

from __future__ import annotations

import numpy as np
from conftest import tiny_model

from tf_graphvae import diagnostics


def test_per_node_kls_are_metrics_that_add_up_to_the_kl(binary_digits):
    model = tiny_model("full", node_dims=[3, 2, 1], node_dim=3)
    model.compile(optimizer="adam")
    x = binary_digits[:256]
    history = model.fit(x, batch_size=64, epochs=2, verbose=0, validation_data=(x,)).history
    for prefix in ("", "val_"):
        per_node = np.array([history[f"{prefix}kl_z{j}"] for j in range(3)])  # [N, epochs]
        assert per_node.shape == (3, 2) and np.all(per_node >= 0)
        np.testing.assert_allclose(per_node.sum(axis=0), history[f"{prefix}kl"], rtol=1e-4)


def test_active_units_count_each_nodes_own_units(binary_digits):
    model = tiny_model("learned", node_dims=[3, 2, 1], node_dim=3)
    x = binary_digits[:100]
    every = diagnostics.latent_diagnostics(model, x, num_samples=4, threshold=0.0)
    assert every["active_units_per_node"] == [3, 2, 1] == every["node_sizes"]  # no padding
    none = diagnostics.latent_diagnostics(model, x, num_samples=4, threshold=1e9)
    assert none["active_units"] == 0
    default = diagnostics.latent_diagnostics(model, x, num_samples=4)
    variance = default["unit_variance"]
    assert default["active_units_per_node"] == [int(np.sum(np.array(v) > 0.01)) for v in variance]
    assert len(default["kl_per_node"]) == 3 and min(default["kl_per_node"]) >= 0
    means = model.encode(x, per_node=True)  # E_q[z]: the deterministic pass
    np.testing.assert_allclose(default["unit_variance"][1], means[:, 1, :2].var(axis=0),
                               rtol=1e-5)  # fmt: skip
    assert "| z2 |" in diagnostics.markdown(default)


def test_a_collapsed_node_has_no_active_unit(binary_digits):
    model = tiny_model("independent", num_nodes=2, node_dim=2)
    x = binary_digits[:100]
    base = diagnostics.latent_diagnostics(model, x, num_samples=2, threshold=1e-12)
    assert base["active_units_per_node"] == [2, 2]
    # The VAE's posterior mean of node 1 is its bottom-up head's: zero that head's weights
    # for node 1 and its mean no longer moves with the image.
    kernel = next(v for v in model.bottom_up_layer.weights if "kernel" in v.path)
    value = np.array(kernel.numpy())
    mean_columns = _node_mean_columns(value.shape[-1], node=1, num_nodes=2, node_dim=2)
    value[:, mean_columns] = 0.0
    kernel.assign(value)
    collapsed = diagnostics.latent_diagnostics(model, x, num_samples=2, threshold=1e-12)
    assert collapsed["active_units_per_node"][1] == 0 and collapsed["active_units_per_node"][0] == 2


def _node_mean_columns(width: int, node: int, num_nodes: int, node_dim: int) -> list[int]:
    """The head's output columns of node `node`'s means: it is read as `[N, N', 2]`
    (`GraphVAE.bottom_up`), mean then log-variance of every unit."""
    assert width == 2 * num_nodes * node_dim
    return [2 * (node * node_dim + k) for k in range(node_dim)]
