"""Image datasets for the Graph VAE, as unbatched ``tf.data`` pipelines.

Five datasets are known (:data:`DATASETS`):

========================  ============  ===========================================
name                      event shape   values
========================  ============  ===========================================
``digits``                (8, 8, 1)     scikit-learn's 1,797 digits, 0..16 -> [0, 1]
``mnist``                 (28, 28, 1)   0..255 -> [0, 1]
``fashion_mnist``         (28, 28, 1)   0..255 -> [0, 1]
``omniglot``              (28, 28, 1)   105x105 PNGs, inverted (strokes 1), area-resized
``cifar10``               (32, 32, 3)   0..255 (float32 holding integers)
========================  ============  ===========================================

All but ``cifar10`` have a Bernoulli likelihood (:data:`BINARY_DATASETS`).

A user's own data: :func:`from_arrays` (numpy arrays to the same kind of pipeline), or the
name ``npz:<path>`` wherever a dataset name is taken (an ``.npz`` file with arrays
``x_train`` and ``x_test`` of any example shape, and optionally ``y_train``, ``y_test``).
Their likelihood follows from the values (:func:`infer_likelihood`) unless it is given.

Where the data come from, in this order:

1. ``data_dir``, when given. It must hold the publishers' own files:

   * ``mnist`` / ``fashion_mnist``: the IDX files ``train-images-idx3-ubyte.gz``,
     ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
     ``t10k-labels-idx1-ubyte.gz`` (or the same names without ``.gz``). Label files are
     only needed with ``with_labels=True``.
   * ``omniglot``: ``images_background.zip`` (``train``), ``images_evaluation.zip``
     (``test``), ``images_background_small1.zip`` (``small1``),
     ``images_background_small2.zip`` (``small2``); both of the first two for
     ``generative_train`` and ``generative_test``.
   * ``cifar10``: the folder ``cifar-10-batches-py/`` (or its batch files directly in
     ``data_dir``), or the tarball ``cifar-10-python.tar.gz``.

   Only the files of the requested split need to exist.
2. Otherwise TensorFlow Datasets, from ``$TFDS_DATA_DIR`` (or TFDS's default directory),
   with ``download=False``: nothing is ever downloaded, a dataset must already be prepared.
3. Otherwise a :class:`FileNotFoundError` that says which files to put in a ``data_dir``.

``digits`` always comes from scikit-learn (``data_dir`` is ignored).

Split specs follow TFDS's slicing syntax: ``train``, ``test[:8000]``, ``test[8000:]``,
``train[10%:20%]``, ``train[-1000:]``. Percent bounds are rounded to the closest example,
as TFDS does. One extension: ``train@val10%`` is a random 10 % of ``train`` drawn with
:data:`VALIDATION_SEED` (the same images for every run), ``train@fit10%`` the other 90 %;
a validation split is a sample of the whole training split, never a tail of sorted
files. Omniglot's ``generative_train`` / ``generative_test`` draw on all 50 alphabets
(each character's drawers 1-15 / 16-20: the generative-modelling protocol), ``train`` /
``test`` are the cross-alphabet protocol (30 background / 20 evaluation alphabets).
A split's examples keep the order of their source (sorted member names for
Omniglot archives, file order for IDX and CIFAR batches, TFDS's order for TFDS).

Decoded arrays are cached in-process per source file (path, modification time, size), so
repeated loads are cheap; :func:`clear_cache` empties the cache. Malformed files raise
:class:`ValueError` naming the file and the problem. CIFAR-10's batches are pickles; they
are read with a restricted unpickler that accepts only what a batch holds (a dict of
bytes, lists, ints and numpy integer arrays) and refuses any other global, so a crafted
batch cannot run code.

Example:
    >>> ds = load("mnist", "test", data_dir="~/data/mnist")          # doctest: +SKIP
    >>> ds = without_autotune(ds.shuffle(10_000).batch(128))          # doctest: +SKIP
    >>> ds = ds.prefetch(PREFETCH_BATCHES)                             # doctest: +SKIP

:func:`without_autotune` keeps epoch times steady (it turns tf.data's autotuning off).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from tf_graphvae.config import BINARY_DATASETS, DATASETS, NPZ_PREFIX
from tf_graphvae.data import _arrays, _cache, _spec, _splits
from tf_graphvae.data._arrays import infer_likelihood
from tf_graphvae.data._pipeline import PREFETCH_BATCHES, without_autotune
from tf_graphvae.data._registry import REGISTRY as _REGISTRY
from tf_graphvae.data._splits import VALIDATION_SEED

__all__ = [
    "BINARY_DATASETS",
    "DATASETS",
    "PREFETCH_BATCHES",
    "TEST_SEED",
    "VALIDATION_SEED",
    "binarize_images",
    "clear_cache",
    "default_likelihood",
    "evaluation_subset",
    "event_shape",
    "from_arrays",
    "infer_likelihood",
    "load",
    "load_numpy",
    "split_size",
    "splits",
    "without_autotune",
]


TEST_SEED = 0
"""Seed of the one binarisation of every test split and of evaluation subsets: every
structure and training seed is evaluated on the same 0/1 images, so their LLs pair."""


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def event_shape(name: str) -> tuple[int, ...]:
    """Returns the shape of one example of a dataset (``(height, width, channels)``).

    Args:
        name: A dataset name from :data:`DATASETS`.

    Returns:
        The event shape, e.g. ``(28, 28, 1)`` for ``"mnist"``.

    Raises:
        ValueError: If ``name`` is not a known dataset.
    """
    return _spec_of(name).event_shape


def splits(name: str) -> tuple[str, ...]:
    """Returns the base split names of a dataset (before any ``[start:end]`` slice).

    Args:
        name: A dataset name from :data:`DATASETS`.

    Returns:
        The split names, e.g. ``("train", "test")``.

    Raises:
        ValueError: If ``name`` is not a known dataset.
    """
    return _spec_of(name).splits


def default_likelihood(name: str) -> str:
    """The likelihood of a dataset's values: ``"bernoulli"`` for :data:`BINARY_DATASETS`,
    ``"discretized_logistic"`` for ``cifar10``, inferred from ``x_train`` for
    ``npz:<path>`` (see :func:`infer_likelihood`)."""
    if name.startswith(NPZ_PREFIX):
        return _arrays.npz_likelihood(name)
    return "bernoulli" if _spec_of(name).binary else "discretized_logistic"


def run_likelihood(config) -> str:
    """A run's likelihood: its `likelihood` setting, else the one its dataset's values call
    for (:func:`default_likelihood`)."""
    return config.model.likelihood or default_likelihood(config.dataset)


def from_arrays(x, likelihood: str | None = None, *, labels=None) -> tf.data.Dataset:
    """A user's examples as an unbatched ``tf.data.Dataset`` of float32, as :func:`load`
    gives.

    Args:
        x: examples ``[n, *event_shape]``: images, vectors (``[n, D]``), any shape;
            float or integer (uint8 images stay 0..255).
        likelihood: the likelihood the data are for; default inferred from the values
            (:func:`infer_likelihood`). The values are checked against it.
        labels: optional ``[n]`` labels; the elements are then ``(example, label)``.

    Raises:
        ValueError: for an empty, non-numeric or non-finite array, values outside the
            likelihood's range, or labels of another length.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(100, 13))
        >>> ds = from_arrays(x).shuffle(100).batch(32)
        >>> model = tgv.GraphVAE(event_shape=(13,), likelihood="gaussian")  # doctest: +SKIP
    """
    examples, _ = _arrays.as_examples(x, likelihood)
    if labels is None:
        return tf.data.Dataset.from_tensor_slices(examples)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if len(labels) != len(examples):
        raise ValueError(f"{len(labels)} labels for {len(examples)} examples.")
    return tf.data.Dataset.from_tensor_slices((examples, labels))


def load(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    *,
    binarize: bool | None = None,
    seed: int = 0,
    with_labels: bool = False,
) -> tf.data.Dataset:
    """Loads a dataset split as an unbatched ``tf.data.Dataset`` of float32 images.

    The whole split is decoded eagerly into memory, then served with
    ``tf.data.Dataset.from_tensor_slices``; the caller batches, shuffles and prefetches.

    Args:
        name: A dataset name from :data:`DATASETS`.
        split: A split spec in TFDS slicing syntax, e.g. ``"train"``, ``"test[:8000]"``,
            ``"train[10%:20%]"``, ``"train[-1000:]"``.
        data_dir: A directory holding the publishers' files (see the module docstring).
            ``None`` loads from TensorFlow Datasets (``$TFDS_DATA_DIR``), never
            downloading. Ignored for ``"digits"``.
        binarize: ``None`` or ``False`` (default) returns grey images in [0, 1] (the model
            binarises training batches itself). ``True`` binarises the images once,
            ``rng.random(shape) < x`` with ``rng = np.random.default_rng(seed)``, so that
            two loads with one seed give identical 0/1 images (for test sets). The
            binarisation is drawn over the whole base split before slicing, so a slice
            of a binarised split equals the same slice of the binarised whole.
            Only for :data:`BINARY_DATASETS`.
        seed: The seed of the binarisation; unused unless ``binarize=True``.
        with_labels: If ``True``, elements are ``(image, label)`` pairs with int64
            labels: the class for digits, MNIST, Fashion-MNIST and CIFAR-10, and for
            Omniglot the index of the alphabet among the split's alphabets sorted by name.

    Returns:
        A dataset of float32 images of fully known shape :func:`event_shape(name)
        <event_shape>`, or of ``(image, label)`` pairs. Images are in [0, 1] for binary
        datasets and hold integers 0..255 for ``cifar10``.

    Raises:
        ValueError: On an unknown dataset, a bad split spec, ``binarize=True`` for
            ``cifar10``, or a malformed data file.
        FileNotFoundError: If ``data_dir`` lacks the split's files, or, without
            ``data_dir``, TFDS has no prepared copy of the dataset.
    """
    images, labels = _load_split(
        name, split, data_dir, need_labels=with_labels, binarize=bool(binarize), seed=seed
    )
    if with_labels:
        assert labels is not None
        return tf.data.Dataset.from_tensor_slices((images, labels))
    return tf.data.Dataset.from_tensor_slices(images)


def load_numpy(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    *,
    binarize: bool = False,
    seed: int = TEST_SEED,
) -> np.ndarray:
    """Loads a dataset split as a numpy array.

    Args:
        name: A dataset name from :data:`DATASETS`.
        split: A split spec in TFDS slicing syntax (see :func:`load`).
        data_dir: Where the publishers' files are (see :func:`load`).
        binarize, seed: as in :func:`load` (the same images for the same arguments).

    Returns:
        A new float32 array of shape ``[n, H, W, C]``: values in [0, 1] for binary
        datasets, integers 0..255 for ``cifar10``.

    Raises:
        ValueError: On an unknown dataset, a bad split spec or a malformed data file.
        FileNotFoundError: If the data cannot be found (see :func:`load`).
    """
    images, _ = _load_split(name, split, data_dir, need_labels=False, binarize=binarize, seed=seed)
    return images


def split_size(name: str, split: str = "train", data_dir: str | os.PathLike | None = None) -> int:
    """The number of examples of a split spec (the decoded split is cached, not copied)."""
    spec = _spec_of(name)
    parsed = _splits.parse_split(name, split, spec.splits)
    raw, _, _ = _load_base(spec, parsed.base, data_dir, need_labels=False)
    index = _splits.resolve(name, parsed, len(raw))
    return len(range(len(raw))[index]) if isinstance(index, slice) else len(index)


def evaluation_subset(num_images: int, size: int | None, seed: int = TEST_SEED) -> np.ndarray:
    """Indices of a fixed random subset of `size` of `num_images` test images, sorted.

    The same arguments give the same subset, so every model is scored on the same images;
    `size=None` (or `size >= num_images`) gives every image.
    """
    if size is None or size >= num_images:
        return np.arange(num_images)
    if isinstance(size, bool) or int(size) != size or size < 1:
        raise ValueError(f"The number of evaluation images must be an integer >= 1, got {size!r}.")
    return np.sort(np.random.default_rng(seed).permutation(num_images)[: int(size)])


def clear_cache() -> None:
    """Forgets all decoded arrays kept by earlier loads."""
    _cache.clear()


# --------------------------------------------------------------------------------------
# Binarisation
# --------------------------------------------------------------------------------------


def binarize_images(images: np.ndarray, seed: int = TEST_SEED) -> np.ndarray:
    """Returns ``(np.random.default_rng(seed).random(images.shape) < images)`` as float32.

    The uniform draws are made in chunks of examples to bound memory; since the generator
    fills arrays in C order, the result equals the one-shot expression.
    """
    rng = np.random.default_rng(seed)
    out = np.empty_like(images, dtype=np.float32)
    per_example = max(1, int(np.prod(images.shape[1:])))
    step = max(1, (1 << 22) // per_example)
    for begin in range(0, len(images), step):
        chunk = images[begin : begin + step]
        out[begin : begin + step] = rng.random(chunk.shape) < chunk
    return out


# --------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------


def _spec_of(name: str) -> _spec.DatasetSpec:
    """The registry's record of `name`, or one made for an `npz:<path>` file."""
    if isinstance(name, str) and name.startswith(NPZ_PREFIX):
        return _arrays.npz_spec(name)
    if name not in _REGISTRY:
        raise ValueError(
            f"Unknown dataset {name!r}; valid names are {', '.join(DATASETS)} or "
            f"{NPZ_PREFIX}<path>."
        )
    return _REGISTRY[name]


def _load_split(
    name: str,
    split: str,
    data_dir: str | os.PathLike | None,
    *,
    need_labels: bool,
    binarize: bool = False,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Returns fresh float32 images of a split spec, optionally binarised, and labels."""
    spec = _spec_of(name)
    parsed = _splits.parse_split(name, split, spec.splits)
    if binarize and not spec.binary:
        raise ValueError(
            f"binarize=True is only for binary datasets {BINARY_DATASETS}; "
            f"{name!r} has values 0..255."
        )
    raw, scale, labels = _load_base(spec, parsed.base, data_dir, need_labels=need_labels)
    index = _splits.resolve(name, parsed, len(raw))
    if binarize:  # drawn over the whole base split, so that slices of it agree
        images = binarize_images(_to_float(raw, scale), seed)[index].copy()
    else:
        images = _to_float(raw[index], scale)
    if labels is not None:
        labels = np.array(labels[index], dtype=np.int64)
    return images, labels


def _to_float(raw: np.ndarray, scale: float) -> np.ndarray:
    images = raw.astype(np.float32)  # always a copy: the cache stays untouched
    if scale != 1:
        images /= np.float32(scale)
    return images


def _load_base(
    spec: _spec.DatasetSpec, base: str, data_dir: str | os.PathLike | None, *, need_labels: bool
) -> _spec.RawSplit:
    """Returns the (read-only, cached) raw images of a base split, their scale, labels."""
    if data_dir is None or spec.local is None:
        return spec.load_default(spec, base, need_labels)
    directory = _check_dir(spec, base, data_dir, need_labels)
    return spec.local.load(spec.name, base, directory, need_labels)


def _check_dir(
    spec: _spec.DatasetSpec, base: str, data_dir: str | os.PathLike, need_labels: bool
) -> Path:
    directory = Path(os.fspath(data_dir)).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(
            f"data_dir {str(directory)!r} does not exist or is not a directory; for "
            f"{spec.name!r} split {base!r} it must hold "
            f"{spec.describe_files(base, need_labels)}."
        )
    return directory
