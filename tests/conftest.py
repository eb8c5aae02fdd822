"""Shared fixtures: small real data and tiny models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the installed console scripts
SHARED_DATA = ROOT.parent / "shared" / "data"
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session")
def digits() -> np.ndarray:
    """scikit-learn's 1,797 real 8x8 digits, float32 in [0, 1], `[n, 8, 8, 1]`."""
    from sklearn.datasets import load_digits

    return (load_digits().images / 16.0).astype(np.float32)[..., None]


@pytest.fixture(scope="session")
def binary_digits(digits) -> np.ndarray:
    """The digits binarised once with seed 0, as a test set is (docs/design.md §3)."""
    return (np.random.default_rng(0).random(digits.shape) < digits).astype(np.float32)


@pytest.fixture(scope="session")
def small_real_images(digits) -> np.ndarray:
    """512 real images: the first MNIST test digits when the offline copy is present."""
    from tf_graphvae import data

    mnist = SHARED_DATA / "mnist"
    if (mnist / "t10k-images-idx3-ubyte.gz").exists():
        return data.load_numpy("mnist", "test[:512]", data_dir=mnist)
    return digits[:512]


def tiny_model(structure="learned", event_shape=(8, 8, 1), **kwargs):
    import tf_graphvae as tgv

    defaults = dict(
        num_nodes=3,
        node_dim=2,
        encoder_units=(32,),
        decoder_units=(32,),
        top_down_units=16,
        seed=0,
    )
    defaults.update(kwargs)
    import keras

    keras.utils.set_random_seed(defaults["seed"] or 0)  # the initial weights too
    return tgv.GraphVAE(event_shape=event_shape, structure=structure, **defaults)


def run_command(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs an installed console script as a user would; output captured as text."""
    return subprocess.run([str(BIN / name), *args], capture_output=True, text=True, timeout=timeout)


def assert_picture(path: Path) -> None:
    """A PNG file that shows something (not one flat colour)."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    assert imread(path)[..., :3].std() > 0, path
