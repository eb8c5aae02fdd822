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

Where the data come from, in this order:

1. ``data_dir``, when given. It must hold the publishers' own files:

   * ``mnist`` / ``fashion_mnist``: the IDX files ``train-images-idx3-ubyte.gz``,
     ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
     ``t10k-labels-idx1-ubyte.gz`` (or the same names without ``.gz``). Label files are
     only needed with ``with_labels=True``.
   * ``omniglot``: ``images_background.zip`` (``train``), ``images_evaluation.zip``
     (``test``), ``images_background_small1.zip`` (``small1``),
     ``images_background_small2.zip`` (``small2``).
   * ``cifar10``: the folder ``cifar-10-batches-py/`` (or its batch files directly in
     ``data_dir``), or the tarball ``cifar-10-python.tar.gz``.

   Only the files of the requested split need to exist.
2. Otherwise TensorFlow Datasets, from ``$TFDS_DATA_DIR`` (or TFDS's default directory),
   with ``download=False``: nothing is ever downloaded, a dataset must already be prepared.
3. Otherwise a :class:`FileNotFoundError` that says which files to put in a ``data_dir``.

``digits`` always comes from scikit-learn (``data_dir`` is ignored).

Split specs follow TFDS's slicing syntax: ``train``, ``test[:8000]``, ``test[8000:]``,
``train[10%:20%]``, ``train[-1000:]``. Percent bounds are rounded to the closest example,
as TFDS does. A split's examples keep the order of their source (sorted member names for
Omniglot archives, file order for IDX and CIFAR batches, TFDS's order for TFDS).

Decoded arrays are cached in-process per source file (path, modification time, size), so
repeated loads are cheap; :func:`clear_cache` empties the cache. Malformed files raise
:class:`ValueError` naming the file and the problem. CIFAR-10's batches are pickles; they
are read with a restricted unpickler that accepts only what a batch holds (a dict of
bytes, lists, ints and numpy integer arrays) and refuses any other global, so a crafted
batch cannot run code.

Example:
    >>> ds = load("mnist", "test", data_dir="~/data/mnist")          # doctest: +SKIP
    >>> ds = ds.shuffle(10_000).batch(128).prefetch(tf.data.AUTOTUNE)  # doctest: +SKIP
"""

from __future__ import annotations

import collections
import contextlib
import gzip
import io
import os
import pickle
import posixpath
import re
import struct
import tarfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tf_graphvae.config import BINARY_DATASETS, DATASETS

__all__ = [
    "BINARY_DATASETS",
    "DATASETS",
    "TEST_SEED",
    "binarize_images",
    "clear_cache",
    "evaluation_subset",
    "event_shape",
    "load",
    "load_numpy",
    "splits",
]


TEST_SEED = 0
"""Seed of the one binarisation of every test split and of evaluation subsets: every
structure and training seed is evaluated on the same 0/1 images, so their LLs pair."""

_EVENT_SHAPES: dict[str, tuple[int, int, int]] = {
    "digits": (8, 8, 1),
    "mnist": (28, 28, 1),
    "fashion_mnist": (28, 28, 1),
    "omniglot": (28, 28, 1),
    "cifar10": (32, 32, 3),
}

_SPLITS: dict[str, tuple[str, ...]] = {
    "digits": ("train", "test"),
    "mnist": ("train", "test"),
    "fashion_mnist": ("train", "test"),
    "omniglot": ("train", "test", "small1", "small2"),
    "cifar10": ("train", "test"),
}

_DIGITS_TRAIN = 1437  # first 1,437 of sklearn's 1,797 digits; the last 360 are `test`.

_IDX_PREFIX = {"train": "train", "test": "t10k"}
_IDX_IMAGES_MAGIC = 0x00000803
_IDX_LABELS_MAGIC = 0x00000801
_IDX_MAX_EXAMPLES = 2_000_000  # MNIST has 70,000; refuse headers that claim gigabytes

_OMNIGLOT_ZIPS = {
    "train": "images_background.zip",
    "test": "images_evaluation.zip",
    "small1": "images_background_small1.zip",
    "small2": "images_background_small2.zip",
}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_PNG_BYTES = 16 << 20  # an Omniglot PNG is ~1 KB; refuse absurd members (zip bombs)
_MAX_PNG_SIDE = 2048  # Omniglot's are 105x105

_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_TARBALL = "cifar-10-python.tar.gz"
_CIFAR_BATCHES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
_MAX_CIFAR_BATCH_BYTES = 512 << 20  # a real batch is ~31 MB


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def event_shape(name: str) -> tuple[int, int, int]:
    """Returns the shape ``(height, width, channels)`` of one image of a dataset.

    Args:
        name: A dataset name from :data:`DATASETS`.

    Returns:
        The event shape, e.g. ``(28, 28, 1)`` for ``"mnist"``.

    Raises:
        ValueError: If ``name`` is not a known dataset.
    """
    _check_name(name)
    return _EVENT_SHAPES[name]


def splits(name: str) -> tuple[str, ...]:
    """Returns the base split names of a dataset (before any ``[start:end]`` slice).

    Args:
        name: A dataset name from :data:`DATASETS`.

    Returns:
        The split names, e.g. ``("train", "test")``.

    Raises:
        ValueError: If ``name`` is not a known dataset.
    """
    _check_name(name)
    return _SPLITS[name]


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
    _check_name(name)
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
    _check_name(name)
    images, _ = _load_split(name, split, data_dir, need_labels=False, binarize=binarize, seed=seed)
    return images


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
    with _CACHE_LOCK:
        _CACHE.clear()


# --------------------------------------------------------------------------------------
# Names and split specs
# --------------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if name not in _EVENT_SHAPES:
        raise ValueError(f"Unknown dataset {name!r}; valid names are {', '.join(DATASETS)}.")


_SPLIT_RE = re.compile(
    r"""^\s*(?P<base>[A-Za-z0-9_-]+)\s*
    (?:\[\s*(?P<start>-?\d+%?)?\s*:\s*(?P<stop>-?\d+%?)?\s*\])?\s*$""",
    re.VERBOSE,
)

_Bound = tuple[int, bool] | None  # (value, is_percent)


def _parse_split(name: str, split: str) -> tuple[str, _Bound, _Bound]:
    """Parses ``base[start:stop]`` into the base name and the two optional bounds."""
    valid = ", ".join(_SPLITS[name])
    match = _SPLIT_RE.match(split) if isinstance(split, str) else None
    if match is None:
        raise ValueError(
            f"Bad split spec {split!r} for {name!r}: expected NAME or NAME[START:END] with "
            f"integer or percent bounds, e.g. 'test[:8000]' or 'train[10%:20%]'; "
            f"valid split names are {valid}."
        )
    base = match["base"]
    if base not in _SPLITS[name]:
        raise ValueError(
            f"Unknown split {base!r} in split spec {split!r} for {name!r}; "
            f"valid split names are {valid}."
        )
    bounds = []
    for token in (match["start"], match["stop"]):
        if token is None:
            bounds.append(None)
            continue
        percent = token.endswith("%")
        value = int(token.rstrip("%"))
        if percent and abs(value) > 100:
            raise ValueError(
                f"Bad split spec {split!r} for {name!r}: percent bound {token} is outside "
                f"[-100%, 100%]; valid split names are {valid}."
            )
        bounds.append((value, percent))
    return base, bounds[0], bounds[1]


def _resolve_slice(name: str, split: str, base: str, start: _Bound, stop: _Bound, n: int) -> slice:
    """Turns parsed bounds into an absolute slice of a base split of ``n`` examples."""

    def absolute(bound: _Bound, default: int) -> int:
        if bound is None:
            return default
        value, percent = bound
        if percent:
            value = int(round(value * n / 100.0))
        if abs(value) > n:
            raise ValueError(
                f"Split spec {split!r} for {name!r}: bound {value} is out of range for "
                f"split {base!r} of {n} examples."
            )
        return value + n if value < 0 else value

    begin, end = absolute(start, 0), absolute(stop, n)
    if begin >= end:
        raise ValueError(
            f"Split spec {split!r} for {name!r} selects no examples "
            f"(split {base!r} has {n}: [{begin}:{end}])."
        )
    return slice(begin, end)


# --------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------

_CACHE: collections.OrderedDict[tuple, Any] = collections.OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_MAX_ENTRIES = 16


def _cached(key: tuple, compute: Callable[[], Any]) -> Any:
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    value = compute()
    with _CACHE_LOCK:
        _CACHE[key] = value
        _CACHE.move_to_end(key)
        while len(_CACHE) > _CACHE_MAX_ENTRIES:
            _CACHE.popitem(last=False)
    return value


def _file_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


class _Malformed(Exception):
    """A problem found by a decoder; turned into a ValueError naming the file."""


class _FileError(ValueError):
    """A malformed-file error that already names its file."""


@contextlib.contextmanager
def _decoding(what: str) -> Iterator[None]:
    """Turns any failure of a decoder on bad bytes into a ValueError naming ``what``."""
    try:
        yield
    except (FileNotFoundError, _FileError):
        raise
    except _Malformed as err:
        raise _FileError(f"{what} is malformed: {err}") from None
    except Exception as err:  # a decoder fed corrupt bytes can fail in many ways
        first_line = (str(err).strip().splitlines() or [""])[0]
        raise _FileError(
            f"{what} is corrupt or unreadable: {type(err).__name__}: {first_line}"
        ) from err


def _read_limited(stream: Any, limit: int) -> bytes:
    """Reads at most ``limit`` bytes in chunks (never pre-allocates ``limit`` bytes)."""
    buffer = bytearray()
    while len(buffer) < limit:
        chunk = stream.read(min(limit - len(buffer), 1 << 22))
        if not chunk:
            break
        buffer += chunk
    return bytes(buffer)


# --------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------


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
    base, start, stop = _parse_split(name, split)
    if binarize and name not in BINARY_DATASETS:
        raise ValueError(
            f"binarize=True is only for binary datasets {BINARY_DATASETS}; "
            f"{name!r} has values 0..255."
        )
    raw, scale, labels = _load_base(name, base, data_dir, need_labels=need_labels)
    index = _resolve_slice(name, split, base, start, stop, len(raw))
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
    name: str, base: str, data_dir: str | os.PathLike | None, *, need_labels: bool
) -> tuple[np.ndarray, float, np.ndarray | None]:
    """Returns the (read-only, cached) raw images of a base split, their scale, labels."""
    if name == "digits":
        raw, scale, labels = _load_digits(base)
    elif data_dir is not None:
        directory = _check_dir(name, base, data_dir, need_labels)
        if name in ("mnist", "fashion_mnist"):
            raw, scale, labels = _load_idx_split(name, base, directory, need_labels)
        elif name == "omniglot":
            raw, scale, labels = _load_omniglot_zip(name, base, directory)
        else:
            raw, scale, labels = _load_cifar_local(name, base, directory)
    else:
        raw, scale, labels = _load_tfds(name, base, need_labels)
    return raw, scale, labels


def _expected_files(name: str, base: str, need_labels: bool) -> list[str]:
    """The publisher's file names a ``data_dir`` must hold for one split."""
    if name in ("mnist", "fashion_mnist"):
        prefix = _IDX_PREFIX[base]
        files = [f"{prefix}-images-idx3-ubyte.gz"]
        if need_labels:
            files.append(f"{prefix}-labels-idx1-ubyte.gz")
        return files
    if name == "omniglot":
        return [_OMNIGLOT_ZIPS[base]]
    if name == "cifar10":
        return [f"{_CIFAR_DIR}/{batch}" for batch in _CIFAR_BATCHES[base]]
    return []


def _describe_expected(name: str, base: str, need_labels: bool) -> str:
    files = _expected_files(name, base, need_labels)
    if name in ("mnist", "fashion_mnist"):
        return " and ".join(files) + " (uncompressed names without .gz are also accepted)"
    if name == "cifar10":
        return (
            f"{_CIFAR_TARBALL}, or the extracted folder {_CIFAR_DIR}/ holding "
            f"{', '.join(_CIFAR_BATCHES[base])} (the batch files may also sit directly "
            f"in the directory)"
        )
    return " and ".join(files)


def _check_dir(name: str, base: str, data_dir: str | os.PathLike, need_labels: bool) -> Path:
    directory = Path(os.fspath(data_dir)).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(
            f"data_dir {str(directory)!r} does not exist or is not a directory; for "
            f"{name!r} split {base!r} it must hold "
            f"{_describe_expected(name, base, need_labels)}."
        )
    return directory


def _missing(name: str, base: str, directory: Path, files: list[str], also: str = "") -> None:
    raise FileNotFoundError(
        f"{name!r} split {base!r}: expected {' and '.join(files)} in data_dir "
        f"{str(directory)!r}, not found{also}."
    )


# --------------------------------------------------------------------------------------
# digits (scikit-learn)
# --------------------------------------------------------------------------------------


def _load_digits(base: str) -> tuple[np.ndarray, float, np.ndarray]:
    def compute() -> tuple[np.ndarray, np.ndarray]:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images = np.asarray(bunch.images).reshape(-1, 8, 8, 1)
        return (
            _readonly(np.rint(images).astype(np.uint8)),
            _readonly(np.asarray(bunch.target, dtype=np.int64)),
        )

    images, labels = _cached(("digits",), compute)
    part = slice(0, _DIGITS_TRAIN) if base == "train" else slice(_DIGITS_TRAIN, None)
    return images[part], 16.0, labels[part]


# --------------------------------------------------------------------------------------
# MNIST / Fashion-MNIST (IDX)
# --------------------------------------------------------------------------------------


def _find_idx(directory: Path, base: str, kind: str) -> tuple[Path | None, list[str]]:
    ndim = 3 if kind == "images" else 1
    stem = f"{_IDX_PREFIX[base]}-{kind}-idx{ndim}-ubyte"
    names = [f"{stem}.gz", stem]
    for file_name in names:
        if (directory / file_name).is_file():
            return directory / file_name, names
    return None, names


def _load_idx_split(
    name: str, base: str, directory: Path, need_labels: bool
) -> tuple[np.ndarray, float, np.ndarray | None]:
    images_path, image_names = _find_idx(directory, base, "images")
    labels_path, label_names = _find_idx(directory, base, "labels")
    missing = []
    if images_path is None:
        missing.append(f"{image_names[0]} (or {image_names[1]})")
    if need_labels and labels_path is None:
        missing.append(f"{label_names[0]} (or {label_names[1]})")
    if missing:
        _missing(name, base, directory, missing)
    assert images_path is not None
    images = _cached(
        ("idx", _file_key(images_path), "images"),
        lambda: _readonly(_read_idx(images_path, labels=False)),
    )
    labels = None
    if need_labels:
        assert labels_path is not None
        labels = _cached(
            ("idx", _file_key(labels_path), "labels"),
            lambda: _readonly(_read_idx(labels_path, labels=True)),
        )
        if len(labels) != len(images):
            raise _FileError(
                f"IDX label file {labels_path} has {len(labels)} labels but image file "
                f"{images_path} has {len(images)} images."
            )
    return images, 255.0, labels


def _read_idx(path: Path, *, labels: bool) -> np.ndarray:
    """Reads one IDX file (gzip-compressed or not): images [n, 28, 28, 1] or labels [n]."""
    kind = "labels" if labels else "images"
    expected_magic = _IDX_LABELS_MAGIC if labels else _IDX_IMAGES_MAGIC
    with _decoding(f"IDX {kind} file {path}"), path.open("rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        header = _read_limited(stream, 4)
        if len(header) < 4:
            raise _Malformed(f"only {len(header)} bytes, shorter than the 4-byte IDX header")
        magic = int.from_bytes(header, "big")
        if magic != expected_magic:
            raise _Malformed(
                f"wrong magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
                f"(unsigned bytes, {1 if labels else 3} dimension(s)) for IDX {kind}"
            )
        ndim = magic & 0xFF
        dims_bytes = _read_limited(stream, 4 * ndim)
        if len(dims_bytes) < 4 * ndim:
            raise _Malformed(f"header truncated: {ndim} dimension sizes expected")
        dims = struct.unpack(f">{ndim}I", dims_bytes)
        if dims[0] > _IDX_MAX_EXAMPLES:
            raise _Malformed(f"the header claims an implausible {dims[0]} examples")
        if not labels and dims[1:] != (28, 28):
            raise _Malformed(
                f"wrong image dimensions {dims[1]}x{dims[2]}, expected 28x28 "
                f"(header says {dims[0]} images)"
            )
        count = int(np.prod(dims, dtype=np.int64))
        payload = _read_limited(stream, count + 1)
        if len(payload) < count:
            raise _Malformed(
                f"truncated: the header {tuple(dims)} says {count} bytes of data, "
                f"only {len(payload)} present"
            )
        if len(payload) > count:
            raise _Malformed(
                f"more data than the header {tuple(dims)} says ({count} bytes expected)"
            )
        array = np.frombuffer(payload, dtype=np.uint8).reshape(dims)
        if labels:
            if array.size and array.max() > 9:
                raise _Malformed(f"label {int(array.max())} out of range 0..9")
            return array.astype(np.int64)
        return array.reshape(dims[0], 28, 28, 1).copy()


# --------------------------------------------------------------------------------------
# Omniglot
# --------------------------------------------------------------------------------------


def _load_omniglot_zip(
    name: str, base: str, directory: Path
) -> tuple[np.ndarray, float, np.ndarray]:
    path = directory / _OMNIGLOT_ZIPS[base]
    if not path.is_file():
        _missing(name, base, directory, [_OMNIGLOT_ZIPS[base]])
    images, labels = _cached(("omniglot-zip", _file_key(path)), lambda: _read_omniglot(path))
    return images, 1.0, labels


def _read_omniglot(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Decodes an Omniglot archive ``<top>/<alphabet>/<character>/<NNNN_NN>.png``."""
    with _decoding(f"Omniglot archive {path}"):
        blobs, member_names, alphabets = [], [], []
        with zipfile.ZipFile(path) as archive:
            infos = [
                info
                for info in archive.infolist()
                if not info.is_dir()
                and info.filename.lower().endswith(".png")
                and "__MACOSX" not in info.filename
                and not posixpath.basename(info.filename).startswith("._")
            ]
            if not infos:
                raise _Malformed("no PNG images in the archive")
            for info in sorted(infos, key=lambda i: i.filename):
                parts = [p for p in info.filename.split("/") if p]
                if len(parts) < 3:
                    raise _Malformed(
                        f"member {info.filename!r} is not <alphabet>/<character>/<image>.png"
                    )
                if info.file_size > _MAX_PNG_BYTES:
                    raise _Malformed(f"member {info.filename!r} is {info.file_size} bytes")
                with archive.open(info) as member:
                    blob = _read_limited(member, _MAX_PNG_BYTES + 1)
                if not blob.startswith(_PNG_SIGNATURE) or blob[12:16] != b"IHDR":
                    raise _Malformed(f"member {info.filename!r} is not a PNG file")
                width, height = struct.unpack(">II", blob[16:24])
                if max(width, height) > _MAX_PNG_SIDE:  # a tiny file can claim a huge image
                    raise _Malformed(f"member {info.filename!r} is {width}x{height} pixels")
                blobs.append(blob)
                member_names.append(info.filename)
                alphabets.append(parts[-3])
        images = _decode_pngs(blobs, member_names)
        labels = _alphabet_indices(alphabets)
        return _readonly(images), _readonly(labels)


def _alphabet_indices(alphabets: list[str]) -> np.ndarray:
    index = {alphabet: i for i, alphabet in enumerate(sorted(set(alphabets)))}
    return np.array([index[a] for a in alphabets], dtype=np.int64)


def _omniglot_to_28(image: tf.Tensor) -> tf.Tensor:
    """[h, w, 1] uint8, black strokes on white -> [28, 28, 1] float32, strokes 1."""
    ink = 1.0 - tf.cast(image, tf.float32) / 255.0
    resized = tf.image.resize(ink, (28, 28), method="area")
    return tf.clip_by_value(tf.ensure_shape(resized, (28, 28, 1)), 0.0, 1.0)


def _decode_png_28(blob: tf.Tensor) -> tf.Tensor:
    return _omniglot_to_28(tf.io.decode_png(blob, channels=1))


def _decode_pngs(blobs: list[bytes], member_names: list[str]) -> np.ndarray:
    """Decodes, inverts and resizes PNGs in one parallel ``tf.data`` pass."""
    pipeline = (
        tf.data.Dataset.from_tensor_slices(tf.constant(blobs, dtype=tf.string))
        .map(_decode_png_28, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(4096)
    )
    try:
        return np.concatenate([batch.numpy() for batch in pipeline], axis=0)
    except tf.errors.OpError:
        pass
    # Some PNG is bad: find it, one by one, to name it.
    for blob, member in zip(blobs, member_names, strict=True):
        try:
            _decode_png_28(tf.constant(blob))
        except tf.errors.OpError as err:
            first_line = (err.message.strip().splitlines() or [""])[0]
            raise _Malformed(f"member {member!r} is not a decodable PNG: {first_line}") from None
    raise _Malformed("the PNG images could not be decoded")


# --------------------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------------------


def _load_cifar_local(
    name: str, base: str, directory: Path
) -> tuple[np.ndarray, float, np.ndarray]:
    batches = _CIFAR_BATCHES[base]
    for folder in (directory / _CIFAR_DIR, directory):
        paths = [folder / batch for batch in batches]
        if all(p.is_file() for p in paths):
            key = ("cifar-files", *(_file_key(p) for p in paths))
            images, labels = _cached(key, lambda paths=paths: _read_cifar_files(paths))
            return images, 1.0, labels
    tarball = directory / _CIFAR_TARBALL
    if tarball.is_file():
        key = ("cifar-tar", _file_key(tarball), batches)
        images, labels = _cached(key, lambda: _read_cifar_tar(tarball, batches))
        return images, 1.0, labels
    npz = _find_cifar_npz(directory)
    if npz is not None:
        key = ("cifar-npz", _file_key(npz), base)
        images, labels = _cached(key, lambda: _read_cifar_npz(npz, base))
        return images, 1.0, labels
    _missing(
        name,
        base,
        directory,
        [_CIFAR_TARBALL],
        also=(
            f", nor the extracted folder {_CIFAR_DIR}/ with {', '.join(batches)} "
            f"(nor those batch files directly in data_dir), nor a .npz with arrays "
            f"x_train/x_test (the layout of keras.datasets.cifar10.load_data())"
        ),
    )
    raise AssertionError("unreachable")


def _find_cifar_npz(directory: Path) -> Path | None:
    """The `.npz` of `directory` in Keras's layout; `cifar10*.npz` first, then by name."""
    candidates = sorted(directory.glob("*.npz"), key=lambda p: (not p.name.startswith("cifar"), p))
    for path in candidates:
        with contextlib.suppress(OSError, ValueError, zipfile.BadZipFile):
            with np.load(path, allow_pickle=False) as archive:
                if {"x_train", "x_test"} <= set(archive.files):
                    return path
    return None


def _read_cifar_npz(path: Path, base: str) -> tuple[np.ndarray, np.ndarray]:
    """`x_<base>` (uint8 `[n, 32, 32, 3]`) and `y_<base>` (or -1 labels when absent)."""
    with _decoding(f"CIFAR-10 arrays {path}"), np.load(path, allow_pickle=False) as archive:
        images = archive[f"x_{base}"]
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
            raise _Malformed(
                f"x_{base} must be uint8 [n, 32, 32, 3], got {images.dtype} {list(images.shape)}"
            )
        labels = np.full(len(images), -1, np.int64)
        if f"y_{base}" in archive.files:
            labels = np.asarray(archive[f"y_{base}"]).reshape(-1).astype(np.int64)
            if len(labels) != len(images):
                raise _Malformed(f"y_{base} has {len(labels)} labels for {len(images)} images")
    return _readonly(np.ascontiguousarray(images)), _readonly(labels)


def _read_cifar_files(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    parts = []
    for path in paths:
        with _decoding(f"CIFAR-10 batch {path}"):
            if path.stat().st_size > _MAX_CIFAR_BATCH_BYTES:
                raise _Malformed(f"{path.stat().st_size} bytes, too large for a batch")
            parts.append(_parse_cifar_batch(path.read_bytes()))
    return _concat_cifar(parts)


def _read_cifar_tar(path: Path, batches: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    with _decoding(f"CIFAR-10 tarball {path}"), tarfile.open(path, mode="r:*") as tar:
        for member in tar:
            batch = posixpath.basename(member.name)
            if batch not in batches or batch in found or not member.isfile():
                continue
            with _decoding(f"CIFAR-10 batch {member.name!r} in tarball {path}"):
                if member.size > _MAX_CIFAR_BATCH_BYTES:
                    raise _Malformed(f"{member.size} bytes, too large for a batch")
                stream = tar.extractfile(member)
                if stream is None:
                    raise _Malformed("cannot be read")
                found[batch] = _parse_cifar_batch(_read_limited(stream, member.size))
            if len(found) == len(batches):
                break
        missing = [b for b in batches if b not in found]
        if missing:
            raise _Malformed(f"the tarball has no member(s) {', '.join(missing)}")
    return _concat_cifar([found[b] for b in batches])


def _concat_cifar(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    images = np.concatenate([p[0] for p in parts], axis=0)
    labels = np.concatenate([p[1] for p in parts], axis=0)
    return _readonly(images), _readonly(labels)


# A CIFAR-10 batch is a pickled dict {b"data": uint8 ndarray [n, 3072], b"labels": [int]}.
# Pickles can run arbitrary code, so batches are read with a restricted unpickler that
# never calls into numpy with untrusted state: numpy's array/dtype constructors are
# replaced by inert stand-ins that only record their arguments, and the arrays are then
# rebuilt here with np.frombuffer after the dtype, shape and byte count are validated.


class _NdarrayStub:
    """Stands for ``numpy.ndarray`` (only as the subtype argument of ``_reconstruct``)."""

    def __init__(self, *args: Any) -> None:
        raise pickle.UnpicklingError("numpy.ndarray may only appear as an array subtype")


class _DtypeStub:
    """Stands for ``numpy.dtype(spec, align, copy)`` plus its pickled state."""

    spec: Any = None
    state: Any = None

    def __init__(self, spec: Any = None, *args: Any) -> None:
        self.spec = spec

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _ArrayStub:
    """Stands for a pickled numpy array: its dtype, shape, order and raw bytes."""

    dtype: Any = None
    shape: Any = None
    fortran: Any = False
    raw: Any = None

    def __setstate__(self, state: Any) -> None:
        # ndarray.__reduce__ state: (version, shape, dtype, is_fortran, rawdata), or the
        # same without the version in old pickles.
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("bad numpy array state")
        self.shape, self.dtype, self.fortran, self.raw = state[-4:]


def _stub_reconstruct(subtype: Any = None, *args: Any) -> _ArrayStub:
    """Stands for ``numpy.core.multiarray._reconstruct(ndarray, shape, dtype)``."""
    if subtype is not _NdarrayStub:
        raise pickle.UnpicklingError("only numpy.ndarray may be reconstructed")
    return _ArrayStub()


def _stub_frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any = "C") -> _ArrayStub:
    """Stands for numpy's protocol-5 ``_frombuffer(buffer, dtype, shape, order)``."""
    array = _ArrayStub()
    array.raw, array.dtype, array.shape, array.fortran = buffer, dtype, shape, order == "F"
    return array


def _stub_codecs_encode(obj: Any, encoding: Any = "utf-8", *args: Any) -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes: latin-1 of a str only."""
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is only allowed as str -> latin-1 bytes")
    return obj.encode("latin-1")


_PICKLE_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _stub_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _stub_reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _stub_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _stub_frombuffer,
    ("numpy", "ndarray"): _NdarrayStub,
    ("numpy", "dtype"): _DtypeStub,
    ("numpy.core.multiarray", "dtype"): _DtypeStub,
    ("numpy._core.multiarray", "dtype"): _DtypeStub,
    ("_codecs", "encode"): _stub_codecs_encode,
}

_ALLOWED_DTYPE_SPECS = frozenset(f"{kind}{size}" for kind in "iu" for size in (1, 2, 4, 8))


def _materialize(obj: Any, what: str) -> np.ndarray:
    """Builds a numpy integer array from an :class:`_ArrayStub` after validating it."""
    if not isinstance(obj, _ArrayStub):
        raise _Malformed(f"{what} is not a numpy array")
    stub = obj.dtype
    if not isinstance(stub, _DtypeStub):
        raise _Malformed(f"{what} has no valid dtype")
    spec = stub.spec.decode("ascii") if isinstance(stub.spec, bytes) else stub.spec
    if not isinstance(spec, str) or spec not in _ALLOWED_DTYPE_SPECS:
        raise _Malformed(f"{what} has unsupported dtype {spec!r}")
    endian = "|"
    if spec[1] != "1":
        state = stub.state
        endian = state[1] if isinstance(state, tuple) and len(state) > 1 else "="
        endian = endian.decode("ascii") if isinstance(endian, bytes) else endian
        if endian not in ("<", ">", "="):
            raise _Malformed(f"{what} has a bad byte order {endian!r}")
    dtype = np.dtype(endian + spec)
    shape = obj.shape
    if (
        not isinstance(shape, tuple)
        or len(shape) > 4
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise _Malformed(f"{what} has a bad shape {shape!r}")
    raw = obj.raw
    if isinstance(raw, pickle.PickleBuffer):
        raw = raw.raw()
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise _Malformed(f"{what} has no raw bytes (object arrays are not supported)")
    count = 1
    for d in shape:
        count *= d
    if count * dtype.itemsize != len(raw):
        raise _Malformed(
            f"{what} has shape {shape} of {dtype} ({count * dtype.itemsize} bytes) but "
            f"{len(raw)} bytes of data"
        )
    flat = np.frombuffer(bytes(raw), dtype=dtype, count=count)
    return flat.reshape(shape, order="F" if obj.fortran else "C")


class _CifarUnpickler(pickle._Unpickler):  # the pure-Python unpickler, see below
    """An unpickler that can only rebuild dicts, lists, bytes, ints and array stand-ins.

    Any global outside :data:`_PICKLE_ALLOWED` (e.g. ``os.system``) raises
    :class:`pickle.UnpicklingError` before it could be called. The pure-Python unpickler
    is used because it keeps its memo in a dict (the C one sizes a memo array by an
    untrusted index, so a few crafted bytes could make it allocate gigabytes); its
    ``BYTEARRAY8`` opcode, which pre-allocates the claimed length, is bounded by the
    payload size, and ``BUILD`` (setting state) only applies to the array stand-ins.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, payload: bytes) -> None:
        super().__init__(io.BytesIO(payload), encoding="bytes")
        self._payload_size = len(payload)

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _PICKLE_ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: a CIFAR-10 batch only holds "
                f"numpy arrays, lists and bytes"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed in a CIFAR-10 batch")

    def _load_bytearray8(self) -> None:
        (length,) = struct.unpack("<Q", self.read(8))
        if length > self._payload_size:
            raise pickle.UnpicklingError("BYTEARRAY8 claims more bytes than the file has")
        data = self.read(length)
        if len(data) != length:
            raise pickle.UnpicklingError("pickle data was truncated")
        self.append(bytearray(data))

    def _load_build(self) -> None:
        state = self.stack.pop()
        instance = self.stack[-1]
        if type(instance) not in (_DtypeStub, _ArrayStub):  # no attribute setting elsewhere
            raise pickle.UnpicklingError("BUILD is only allowed on numpy arrays and dtypes")
        instance.__setstate__(state)

    dispatch[pickle.BYTEARRAY8[0]] = _load_bytearray8
    dispatch[pickle.BUILD[0]] = _load_build


def _parse_cifar_batch(payload: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Parses one pickled CIFAR-10 batch into images [n, 32, 32, 3] and labels [n]."""
    batch = _CifarUnpickler(payload).load()
    if not isinstance(batch, dict):
        raise _Malformed(f"expected a pickled dict, got {type(batch).__name__}")

    def entry(key: str) -> Any:
        for candidate in (key.encode(), key):
            if candidate in batch:
                return batch[candidate]
        raise _Malformed(f"no {key.encode()!r} entry")

    data = _materialize(entry("data"), "b'data'")
    if data.dtype != np.uint8:
        raise _Malformed(f"b'data' has dtype {data.dtype}, expected uint8")
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise _Malformed(f"b'data' has shape {data.shape}, expected [n, 3072]")
    labels = entry("labels")
    if isinstance(labels, _ArrayStub):
        labels = _materialize(labels, "b'labels'")
        if labels.ndim != 1:
            raise _Malformed(f"b'labels' has shape {labels.shape}, expected [n]")
    elif isinstance(labels, list | tuple):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
            raise _Malformed("b'labels' holds non-integers")
        if any(v < 0 or v > 9 for v in labels):  # before any conversion: no overflow
            raise _Malformed("labels out of range 0..9")
    else:
        raise _Malformed(f"b'labels' is a {type(labels).__name__}, expected a list")
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if len(labels) != len(data):
        raise _Malformed(f"{len(labels)} labels for {len(data)} images")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise _Malformed("labels out of range 0..9")
    images = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, labels


# --------------------------------------------------------------------------------------
# TensorFlow Datasets
# --------------------------------------------------------------------------------------


def _load_tfds(name: str, base: str, need_labels: bool) -> tuple[np.ndarray, float, np.ndarray]:
    tfds_dir = os.environ.get("TFDS_DATA_DIR") or None
    try:
        images, labels = _cached(
            ("tfds", name, base, tfds_dir), lambda: _read_tfds(name, base, tfds_dir)
        )
    except Exception as err:
        first_line = (str(err).strip().splitlines() or [""])[0]
        where = tfds_dir or "TFDS's default data directory (~/tensorflow_datasets)"
        raise FileNotFoundError(
            f"No data for {name!r} split {base!r}: no data_dir was given and TensorFlow "
            f"Datasets could not provide it from {where} without downloading "
            f"({type(err).__name__}: {first_line}). Either place "
            f"{_describe_expected(name, base, need_labels)} in a directory and pass it as "
            f"data_dir=..., or prepare the TFDS dataset {name!r} (e.g. "
            f"tfds.builder({name!r}).download_and_prepare() where a network is available) "
            f"and set TFDS_DATA_DIR to its data directory."
        ) from err
    scale = 255.0 if name in ("mnist", "fashion_mnist") else 1.0
    return images, scale, labels


def _read_tfds(name: str, base: str, tfds_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow_datasets as tfds

    dataset, info = tfds.load(
        name,
        split=base,
        data_dir=tfds_dir,
        download=False,
        shuffle_files=False,
        with_info=True,
    )
    if name == "omniglot":

        def convert(example: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
            grey = tf.image.rgb_to_grayscale(example["image"])
            return _omniglot_to_28(grey), example["alphabet"]

    else:

        def convert(example: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
            return example["image"], example["label"]

    pipeline = dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE).batch(4096)
    image_parts, label_parts = [], []
    for images, labels in pipeline:
        image_parts.append(images.numpy())
        label_parts.append(labels.numpy())
    if not image_parts:
        raise ValueError(f"TFDS split {base!r} of {name!r} is empty")
    images = np.concatenate(image_parts, axis=0)
    labels = np.concatenate(label_parts, axis=0).astype(np.int64)
    if name == "omniglot":
        names = info.features["alphabet"].names
        labels = _alphabet_indices([names[i] for i in labels])
    if images.shape[1:] != _EVENT_SHAPES[name]:
        raise ValueError(f"TFDS gave images of shape {images.shape[1:]} for {name!r}")
    return _readonly(images), _readonly(labels)


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
