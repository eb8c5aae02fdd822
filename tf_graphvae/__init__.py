"""tf_graphvae: Graph VAE, variational autoencoders that learn their latent dependency structure.

import keras, tf_graphvae as tgv
model = tgv.GraphVAE(event_shape=(28, 28, 1), num_nodes=5, node_dim=10, structure="learned")
model.compile(optimizer=keras.optimizers.Adam(1e-3))
model.fit(ds, epochs=3)
model.edge_probabilities()

Importing the package loads the model and its layers (which registers them with Keras, so
`keras.saving.load_model` finds them). Lazy imports are the exception: in the `tfgvae-*`
commands, and wherever `TF_GRAPHVAE_LAZY_IMPORT=1` is set, the submodules load on first
use, so that a command checks its flags, and a script reads run folders or plots their
JSON (`tf_graphvae.config`, `tf_graphvae.figures`), without starting TensorFlow.
"""

import importlib as _importlib
import os as _os
import sys as _sys

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

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


def __getattr__(name: str):
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


_LAZY = _os.path.basename(_sys.argv[0] if _sys.argv else "").startswith("tfgvae-") or (
    _os.environ.get("TF_GRAPHVAE_LAZY_IMPORT") == "1"
)
if not _LAZY:
    for _name in ("GraphVAE", "data", "evaluate", "layers", "knockout"):
        __getattr__(_name)
