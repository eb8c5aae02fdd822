"""Pictures of a model: a grid of samples and test images beside their reconstructions,
written by `tfgvae-train` into the run folder and by `tfgvae-evaluate` beside its results."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_picture

from tf_graphvae.figures.samples import (
    build_reconstructions,
    is_image_shape,
    plot_model_pictures,
)


class _FakeModel:
    """A GraphVAE's `sample` and `reconstruct`, in numpy."""

    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape

    def sample(self, num_samples: int, seed: int = 0) -> np.ndarray:
        return np.random.default_rng(seed).random((num_samples, *self.shape))

    def reconstruct(self, x) -> np.ndarray:
        return 1.0 - np.asarray(x)


def test_only_height_width_and_one_or_three_channels_are_images():
    assert is_image_shape((8, 8, 1)) and is_image_shape((32, 32, 3))
    assert not is_image_shape((13,)) and not is_image_shape((8, 8, 2))
    assert not is_image_shape((8, 8))


def test_each_image_sits_beside_its_reconstruction():
    images = np.zeros((3, 4, 5, 1))
    figure = build_reconstructions(images, np.ones_like(images), ncols=3)
    mosaic = figure.axes[0].images[0].get_array()
    # 3 pairs of 5 + 1 + 5 columns (a grey line inside each), with 1-column gaps between
    assert mosaic.shape == (4, 3 * 11 + 2)
    assert np.all(mosaic[:, :5] == 0) and np.all(mosaic[:, 5] == 0.5)
    assert np.all(mosaic[:, 6:11] == 1) and np.all(mosaic[:, 11] == 1)
    colour = build_reconstructions(np.zeros((1, 4, 4, 3)), np.full((1, 4, 4, 3), 255.0))
    assert np.allclose(colour.axes[0].images[0].get_array()[:, 4], 0.5)  # 0..255: grey too
    with pytest.raises(ValueError, match="one shape"):
        build_reconstructions(images, np.ones((2, 4, 5, 1)))


def test_model_pictures_are_written_and_not_blank(tmp_path):
    images = np.random.default_rng(1).random((16, 8, 8, 1))
    paths = plot_model_pictures(
        _FakeModel((8, 8, 1)), images, tmp_path / "s.png", tmp_path / "r.png", num_samples=12
    )
    assert paths == [tmp_path / "s.png", tmp_path / "r.png"]
    for path in paths:
        assert_picture(path)
    with pytest.raises(ValueError, match="C in"):
        plot_model_pictures(_FakeModel((13,)), np.zeros((4, 13)), tmp_path / "a", tmp_path / "b")


def test_the_figures_module_imports_no_tensorflow():
    code = "import sys, tf_graphvae.figures.samples; print('tensorflow' in sys.modules)"
    env = {**os.environ, "TF_GRAPHVAE_LAZY_IMPORT": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.stdout.strip() == "False", result.stderr[-2000:]
