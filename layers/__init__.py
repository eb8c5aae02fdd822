"""Custom Keras layers of the Graph VAE: the math of the model lives here."""

from tf_graphvae.layers.gated_dag import GatedDAG, precision_weighted_merge
from tf_graphvae.layers.gates import STRUCTURES, Gates, edge_indices, structure_mask
from tf_graphvae.layers.likelihoods import (
    LIKELIHOODS,
    BernoulliLikelihood,
    DiscretizedLogisticLikelihood,
    make_likelihood,
)
from tf_graphvae.layers.networks import Decoder, Encoder

__all__ = [
    "LIKELIHOODS",
    "STRUCTURES",
    "BernoulliLikelihood",
    "Decoder",
    "DiscretizedLogisticLikelihood",
    "Encoder",
    "GatedDAG",
    "Gates",
    "edge_indices",
    "make_likelihood",
    "precision_weighted_merge",
    "structure_mask",
]
