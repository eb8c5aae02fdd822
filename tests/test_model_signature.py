"""`help(tgv.GraphVAE)` and IDEs list every constructor argument with its default."""

from __future__ import annotations

import dataclasses
import inspect
import pydoc

import tf_graphvae as tgv
from tf_graphvae.config import GraphVAEConfig


def test_help_lists_every_constructor_argument_with_its_default():
    signature = inspect.signature(tgv.GraphVAE)
    text = pydoc.render_doc(tgv.GraphVAE, renderer=pydoc.plaintext)
    for f in dataclasses.fields(GraphVAEConfig):
        assert signature.parameters[f.name].default == (
            inspect.Parameter.empty if f.name == "event_shape" else f.default
        ), f.name
        assert f"{f.name}: " in text, f.name
    assert "{arguments}" not in tgv.GraphVAE.__doc__
    # The signature is the one the constructor takes: every listed argument is accepted.
    model = tgv.GraphVAE((8, 8, 1), **{"num_nodes": 2, "node_dim": 2, "anneal_after_hold": True})
    assert model.num_nodes == 2
