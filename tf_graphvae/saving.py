"""`load_model`: a saved `GraphVAE` back, with the package's classes registered first."""

from __future__ import annotations

import os

import keras

# Imported for their registration with Keras (`register_keras_serializable`): a `.keras`
# file names the model's and layers' classes, which Keras finds only once registered.
from tf_graphvae import layers  # noqa: F401
from tf_graphvae.model import GraphVAE


def load_model(path: str | os.PathLike, custom_objects: dict | None = None) -> GraphVAE:
    """Loads a model saved with `model.save(path)` (a `.keras` file), in Keras's safe mode
    (no code from the file is run).

    `keras.saving.load_model` does the same once the package's classes are registered;
    the package root imports them lazily, so `import tf_graphvae` alone does not.

    Args:
        path: the `.keras` file.
        custom_objects: your own registered-or-not classes and functions (a custom
            likelihood or network), as `keras.saving.load_model` takes them.

    Example:
        >>> model.save("model.keras")
        >>> model = tgv.load_model("model.keras")
    """
    return keras.saving.load_model(path, custom_objects=custom_objects, safe_mode=True)
