"""`help(tgv.GraphVAE)` and IDEs list every constructor argument with its default."""

from __future__ import annotations

import dataclasses
import inspect
import pydoc

import pytest

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


def test_the_model_s_settings_are_read_only_views_of_its_config():
    """One place holds each setting: the model's attributes read `model.config`."""
    from conftest import tiny_model

    from tf_graphvae.config import MODEL_FIELDS

    model = tiny_model("learned", edge_cost=0.25)
    views = [name for name in MODEL_FIELDS if name not in tgv.GraphVAE._BUILT]
    assert len(views) >= 25
    for name in views:
        assert name not in vars(model), name  # nothing copied onto the instance
        assert getattr(model, name) is getattr(model.config, name), name
    with pytest.raises(AttributeError):
        model.edge_cost = 0.5
    assert model.likelihood_name == model.config.likelihood == "bernoulli"
