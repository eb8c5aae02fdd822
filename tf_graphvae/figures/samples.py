"""Grids of images, e.g. model samples or reconstructions.

Numpy arrays in, PNGs out: no TensorFlow here. `plot_model_pictures` takes any object with
a GraphVAE's `sample` and `reconstruct` (both return numpy arrays).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from matplotlib.figure import Figure

from tf_graphvae.figures._common import _save


def _mosaic(images: Any, ncols: int) -> tuple[np.ndarray, int, int]:
    """Tiles `[n, H, W, C]` images into one `[rows*H', cols*W', C]` array in [0, 1]."""
    try:
        array = np.asarray(images, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"images must be a numeric [n, H, W, C] array: {error}") from None
    if array.ndim != 4:
        raise ValueError(f"images must have rank 4 [n, H, W, C], got shape {array.shape}.")
    n, height, width, channels = array.shape
    if n < 1 or height < 1 or width < 1:
        raise ValueError(f"images must be non-empty, got shape {array.shape}.")
    if channels not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels, got {channels}.")
    if not np.all(np.isfinite(array)):
        raise ValueError("images contain non-finite values.")
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"ncols must be an integer >= 1, got {ncols!r}.")
    if channels == 3 and array.max() > 1.0:
        array = array / 255.0
    array = np.clip(array, 0.0, 1.0)

    cols = min(int(ncols), n)
    rows = math.ceil(n / cols)
    pad = max(1, min(height, width) // 14)
    mosaic = np.ones(
        (rows * (height + pad) - pad, cols * (width + pad) - pad, channels), np.float64
    )
    for k in range(n):
        r, c = divmod(k, cols)
        top, left = r * (height + pad), c * (width + pad)
        mosaic[top : top + height, left : left + width] = array[k]
    return mosaic, rows, cols


def build_sample_grid(images: Any, ncols: int = 8, title: str | None = None) -> Figure:
    """Builds a grid of images without saving it (see `plot_sample_grid`).

    Args:
        images: An `[n, H, W, C]` array, `C` = 1 (grey, values in [0, 1]) or 3 (colour, values
            in [0, 1] or 0..255).
        ncols: Images per row.
        title: An optional title.

    Returns:
        The Matplotlib `Figure`; `fig.axes[0]` shows the tiled images as one `AxesImage`.

    Raises:
        ValueError: If `images` is not rank 4, is empty, has another number of channels than
            1 or 3, or holds non-finite values, or if `ncols < 1`.
    """
    mosaic, rows, cols = _mosaic(images, ncols)
    scale = min(1.0, 14.0 / cols, 14.0 / rows)
    aspect = mosaic.shape[0] / mosaic.shape[1]
    width = max(2.0, cols * scale)
    fig = Figure(figsize=(width, width * aspect + (0.4 if title else 0.0)), layout="constrained")
    ax = fig.add_subplot()
    if mosaic.shape[2] == 1:
        ax.imshow(mosaic[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(mosaic, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def plot_sample_grid(
    images: Any, path: str | os.PathLike, ncols: int = 8, title: str | None = None
) -> Path:
    """Writes a grid of images, e.g. model samples or reconstructions.

    Grey images (`C = 1`) use the `gray` colormap on [0, 1]; colour images (`C = 3`) are
    divided by 255 when their maximum exceeds 1. Values are clipped to [0, 1].

    Args:
        images: An `[n, H, W, C]` array with `C` in {1, 3}.
        path: The image file to write (PNG unless its suffix names another format).
        ncols: Images per row.
        title: An optional title.

    Returns:
        `path` as a `Path`.

    Raises:
        ValueError: On invalid inputs (see `build_sample_grid`).
    """
    return _save(build_sample_grid(images, ncols=ncols, title=title), path)


def is_image_shape(shape: Sequence[int]) -> bool:
    """Whether examples of `shape` are pictures: `(H, W, C)` with `C` in {1, 3}."""
    return len(shape) == 3 and shape[-1] in (1, 3)


def build_reconstructions(
    images: Any, reconstructions: Any, ncols: int = 4, title: str | None = None
) -> Figure:
    """Builds a grid of pairs, each image with its reconstruction on its right, without
    saving it (see `plot_reconstructions`).

    Args:
        images: An `[n, H, W, C]` array, `C` in {1, 3}.
        reconstructions: Their reconstructions, the same shape (and units: one scale for both).
        ncols: Pairs per row.
        title: An optional title.

    Returns:
        The Matplotlib `Figure`.

    Raises:
        ValueError: If the two arrays differ in shape, or on invalid images (see
            `build_sample_grid`).
    """
    images, reconstructions = np.asarray(images), np.asarray(reconstructions)
    if images.shape != reconstructions.shape:
        raise ValueError(
            f"images and reconstructions must have one shape, got {images.shape} and "
            f"{reconstructions.shape}."
        )
    if images.ndim != 4:
        raise ValueError(f"images must have rank 4 [n, H, W, C], got shape {images.shape}.")
    # Each pair is one tile, split by a grey line: the grid's white gaps separate the pairs.
    n, height, width, channels = images.shape
    in_bytes = channels == 3 and max(images.max(initial=0), reconstructions.max(initial=0)) > 1
    line = np.full((n, height, max(1, width // 14), channels), 127.5 if in_bytes else 0.5)
    pairs = np.concatenate([images, line, reconstructions], axis=2)
    return build_sample_grid(pairs, ncols=ncols, title=title)


def plot_reconstructions(
    images: Any,
    reconstructions: Any,
    path: str | os.PathLike,
    ncols: int = 4,
    title: str | None = None,
) -> Path:
    """Writes a grid of pairs: each image, then its reconstruction on its right.

    Args:
        images: An `[n, H, W, C]` array with `C` in {1, 3}.
        reconstructions: Their reconstructions, the same shape.
        path: The image file to write (PNG unless its suffix names another format).
        ncols: Pairs per row.
        title: An optional title.

    Returns:
        `path` as a `Path`.

    Raises:
        ValueError: On invalid inputs (see `build_reconstructions`).
    """
    figure = build_reconstructions(images, reconstructions, ncols=ncols, title=title)
    return _save(figure, path)


class ImageModel(Protocol):
    """What `plot_model_pictures` calls: a GraphVAE's `sample` and `reconstruct`."""

    def sample(self, num_samples: int, seed: int = 0) -> np.ndarray: ...

    def reconstruct(self, x: Any) -> np.ndarray: ...


def plot_model_pictures(
    model: ImageModel,
    images: Any,
    samples_path: str | os.PathLike,
    reconstructions_path: str | os.PathLike,
    num_samples: int = 64,
    seed: int = 0,
) -> list[Path]:
    """Writes a grid of `num_samples` samples (decoder means, `model.sample(num_samples,
    seed)`) and the pairs of `images` and their reconstructions (`model.reconstruct`).

    Args:
        model: A GraphVAE of image-shaped examples (see `is_image_shape`).
        images: `[n, H, W, C]` examples to reconstruct, e.g. 16 test images.
        samples_path: The samples' image file.
        reconstructions_path: The reconstructions' image file.
        num_samples: How many samples.
        seed: The samples' seed (the same seed, the same samples).

    Returns:
        The two paths written.

    Raises:
        ValueError: If `images` are not image-shaped, or on invalid inputs.
    """
    images = np.asarray(images)
    if not is_image_shape(images.shape[1:]):
        raise ValueError(f"images must be [n, H, W, C] with C in {{1, 3}}, got {images.shape}.")
    samples, reconstructions = model.sample(num_samples, seed=seed), model.reconstruct(images)
    title = "Test images | reconstructions"
    return [
        plot_sample_grid(samples, samples_path, title="Samples (decoder means)"),
        plot_reconstructions(images, reconstructions, reconstructions_path, title=title),
    ]
