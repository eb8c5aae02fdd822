"""Structures as registered objects (`config/graph.py`): a new one is one registration."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_model

from tf_graphvae.config import (
    STRUCTURES,
    Structure,
    get_structure,
    register_structure,
    structure_mask,
)
from tf_graphvae.config.graph import REGISTRY


def test_the_paper_s_structures_are_registered_with_their_masks():
    assert tuple(STRUCTURES) == ("independent", "chain", "full", "learned", "fixed")
    assert [name for name in STRUCTURES if get_structure(name).learned] == ["learned"]
    assert not get_structure("independent").top_down
    np.testing.assert_array_equal(structure_mask("full", 3), np.tril(np.ones((3, 3)), -1))
    np.testing.assert_array_equal(structure_mask("learned", 3), structure_mask("full", 3))
    assert structure_mask("independent", 3).sum() == 0
    with pytest.raises(ValueError, match="registered already"):
        register_structure(Structure("chain", lambda n, e: []))


def test_a_new_structure_is_one_registration(binary_digits):
    """A 'star' (the root parent of every other node), registered here, is accepted by the
    setting's check, masks the gates and the top-down pass, and trains."""
    star = Structure("star", lambda n, edges: [(n - 1, j) for j in range(n - 1)])
    register_structure(star)
    try:
        assert "star" in STRUCTURES
        model = tiny_model("star", num_nodes=4)
        mask = model.gates(tf.constant(1), training=False).numpy()[0]
        np.testing.assert_array_equal(mask, structure_mask("star", 4))
        assert mask[3, :3].tolist() == [1, 1, 1] and mask[:3].sum() == 0
        model.compile(optimizer="adam", jit_compile=False)
        history = model.fit(binary_digits[:64], batch_size=32, epochs=1, verbose=0).history
        assert np.isfinite(history["loss"][0])
        assert not model.gates.learned and not model.gate_optimizer
    finally:
        REGISTRY.pop("star")
    with pytest.raises(ValueError, match="Unknown structure 'star'"):
        get_structure("star")
