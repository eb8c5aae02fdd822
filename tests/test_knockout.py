"""Knock-out values: ELBO with one gate on minus off, the others at MAP, same noise."""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf
from conftest import tiny_model

from tf_graphvae import figures, knockout


def _trained(binary_digits):
    import keras

    model = tiny_model("learned", num_nodes=3, node_dim=2)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(binary_digits, epochs=2, batch_size=128, verbose=0)
    model.gates.gate_logits.assign([3.0, -3.0, 3.0])  # MAP: z2->z0 on, z2->z1 off, z1->z0 on
    return model


def test_knockout_value_is_the_paired_elbo_difference(binary_digits):
    model = _trained(binary_digits)
    x = binary_digits[:64]
    values = model.knockout_values(x, num_samples=1, seed=5, batch_size=64, jit_compile=False)
    assert values["edges"] == [[2, 0], [2, 1], [1, 0]]  # the order of Gates.gate_logits
    assert values["map_graph"][2][0] == 1 and values["map_graph"][2][1] == 0
    map_graph = np.asarray(values["map_graph"], np.float32)
    seed = tf.constant([5, 0], tf.int32)
    for e, (i, j) in enumerate(values["edges"]):
        on, off = map_graph.copy(), map_graph.copy()
        on[i, j], off[i, j] = 1.0, 0.0
        elbo = [
            model.infer(tf.constant(x), tf.tile(g[None], [64, 1, 1]), seed)["elbo"].numpy()
            for g in (on, off)
        ]
        diff = elbo[0] - elbo[1]
        np.testing.assert_allclose(values["value"][e], diff.mean(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(values["sem"][e], diff.std(ddof=1) / 8.0, rtol=1e-3)
        assert values["value_matrix"][i][j] == values["value"][e]


def test_compiled_agrees_and_an_edge_without_weights_is_worth_nothing(binary_digits):
    model = _trained(binary_digits)
    x = binary_digits[:40]
    eager = knockout.knockout_values(model, x, num_samples=2, batch_size=16, jit_compile=False)
    xla = knockout.knockout_values(model, x, num_samples=2, batch_size=16, jit_compile=True)
    # XLA may draw other (equally valid) latent noise: the two estimates of the same
    # expected difference agree within their standard errors (4 SE of the difference).
    gap = np.abs(np.subtract(eager["value"], xla["value"]))
    assert np.all(gap < 4 * np.hypot(eager["sem"], xla["sem"])), (gap, eager["sem"])
    # The mean-field VAE has no top-down network: no gate changes its ELBO.
    flat = tiny_model("independent", num_nodes=3, node_dim=2)
    assert np.all(np.asarray(flat.knockout_values(x, jit_compile=False)["value"]) == 0.0)


def test_knockout_table_and_figure(tmp_path, binary_digits):
    model = _trained(binary_digits)
    values = model.knockout_values(binary_digits[:30], jit_compile=False)
    table = knockout.markdown_table(values, model.edge_probabilities())
    assert table.count("| z") == 3 and "switching it off" in table and "support" not in table
    path = figures.plot_knockout_values(values, tmp_path / "edges.png", "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = figures.build_knockout_values(values)
    assert len(fig.axes[0].patches) == 3
    json.dumps(values)  # serialisable as written next to the structure JSON
