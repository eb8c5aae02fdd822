"""tf_graphvae: Graph VAE, variational autoencoders that learn their latent dependency structure.

import keras, tf_graphvae as tgv
model = tgv.GraphVAE(event_shape=(28, 28, 1), num_nodes=5, node_dim=10, structure="learned")
model.compile(optimizer=keras.optimizers.Adam(1e-3))
model.fit(ds, epochs=3)
model.edge_probabilities()

Importing the package imports nothing heavy (PEP 562): each public name loads its module,
and so TensorFlow, on first use. `tf_graphvae.config` and `tf_graphvae.figures` read run
folders and plot their JSON without TensorFlow, and the commands check their flags before
it starts. A saved model loads with `tgv.load_model(path)`, which registers the package's
classes with Keras first (`keras.saving.load_model` finds them once a model name such as
`tgv.GraphVAE` has been touched).
"""

import importlib as _importlib
import os as _os
from importlib import metadata as _metadata

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:  # the one place the version is written is pyproject.toml
    __version__ = _metadata.version("tf-graphvae")
except _metadata.PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"

_SUBMODULES = ("config", "data", "knockout", "evaluate", "figures", "layers", "scoring")
_NAMES = {
    "GraphVAE": ("tf_graphvae.model", "GraphVAE"),
    "export_sampler": ("tf_graphvae.export", "export_sampler"),
    "load_model": ("tf_graphvae.saving", "load_model"),
    "LIKELIHOODS": ("tf_graphvae.layers.likelihoods", "LIKELIHOODS"),
    "STRUCTURES": ("tf_graphvae.config", "STRUCTURES"),
}

__all__ = [
    "LIKELIHOODS", "STRUCTURES", "GraphVAE", "__version__", "export_sampler", "load_model",
    *_SUBMODULES,
]  # fmt: skip


# What loads without TensorFlow; every other public name imports it (quietly, first).
_NO_TENSORFLOW = ("config", "figures", "STRUCTURES")


def __getattr__(name: str):
    if name in (*_SUBMODULES, *_NAMES) and name not in _NO_TENSORFLOW:
        from tf_graphvae._quiet import import_tensorflow_quietly

        import_tensorflow_quietly()
    if name in _SUBMODULES:
        module = _importlib.import_module(f"tf_graphvae.{name}")
    elif name in _NAMES:
        module_name, attribute = _NAMES[name]
        module = getattr(_importlib.import_module(module_name), attribute)
    else:
        raise AttributeError(f"module 'tf_graphvae' has no attribute {name!r}")
    globals()[name] = module
    return module


def __dir__() -> list[str]:
    return sorted(__all__)
