"""TensorFlow imported without the C++ start-up lines it writes to stderr before its own
logging is set up (oneDNN notices, CUDA probes, "All log messages before
absl::InitializeLog()"): a user importing the package, or a command, should not see them."""

from __future__ import annotations

import os
import sys


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow and Keras with file descriptor 2 pointed at /dev/null, then gives
    it back; Python errors still propagate. Nothing happens once TensorFlow is imported."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
