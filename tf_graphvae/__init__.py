"""tf_graphvae: Graph VAE, variational autoencoders that learn their latent dependency structure.

import keras, tf_graphvae as tgv
model = tgv.GraphVAE(event_shape=(28, 28, 1), num_nodes=5, node_dim=10, structure="learned")
model.compile(optimizer=keras.optimizers.Adam(1e-3))
model.fit(ds, epochs=3)
model.edge_probabilities()
"""

import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tf_graphvae import (  # noqa: E402, I001
    data,
    edge_values,
    evaluate,
    layers,  # noqa: E402
    trainers,
)
from tf_graphvae.export import export_sampler  # noqa: E402
from tf_graphvae.layers.gates import STRUCTURES  # noqa: E402
from tf_graphvae.layers.likelihoods import LIKELIHOODS  # noqa: E402
from tf_graphvae.model import GraphVAE  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "LIKELIHOODS",
    "STRUCTURES",
    "GraphVAE",
    "__version__",
    "data",
    "edge_values",
    "evaluate",
    "export_sampler",
    "layers",
    "trainers",
]
