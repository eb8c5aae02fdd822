"""Custom Keras layers of the Graph VAE: the math of the model lives here."""

from tf_graphvae.layers.gated_dag import GatedDAG, precision_weighted_merge
from tf_graphvae.layers.gates import Gates
from tf_graphvae.layers.likelihoods import (
    LIKELIHOODS,
    BernoulliLikelihood,
    DiscretizedLogisticLikelihood,
    make_likelihood,
)
from tf_graphvae.layers.networks import Decoder, Encoder

__all__ = [
    "LIKELIHOODS",
    "BernoulliLikelihood",
    "Decoder",
    "DiscretizedLogisticLikelihood",
    "Encoder",
    "GatedDAG",
    "Gates",
    "make_likelihood",
    "precision_weighted_merge",
]
