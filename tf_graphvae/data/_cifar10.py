"""CIFAR-10 from the publisher's pickled batches (a folder or the tarball), or from a
``.npz`` in the layout of ``keras.datasets.cifar10.load_data()``."""

from __future__ import annotations

import contextlib
import functools
import posixpath
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tf_graphvae.data._cache import cached, file_key, readonly
from tf_graphvae.data._cifar_pickle import parse_cifar_batch
from tf_graphvae.data._files import Malformed, decoding, missing_files, read_limited
from tf_graphvae.data._spec import RawSplit

_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_TARBALL = "cifar-10-python.tar.gz"
_CIFAR_BATCHES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
_MAX_CIFAR_BATCH_BYTES = 512 << 20  # a real batch is ~31 MB

_Arrays = tuple[np.ndarray, np.ndarray]


def describe(base: str, need_labels: bool) -> str:
    """The files a ``data_dir`` must hold for split ``base``, in words."""
    return (
        f"{_CIFAR_TARBALL}, or the extracted folder {_CIFAR_DIR}/ holding "
        f"{', '.join(_CIFAR_BATCHES[base])} (the batch files may also sit directly "
        f"in the directory)"
    )


def load_split(name: str, base: str, directory: Path, need_labels: bool) -> RawSplit:
    """The images (0..255) and labels of split ``base``, from the first source found."""
    source = _find_source(directory, base)
    if source is None:
        batches = _CIFAR_BATCHES[base]
        raise missing_files(
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
    key, read = source
    images, labels = cached(key, read)
    return images, 1.0, labels


def _find_source(directory: Path, base: str) -> tuple[tuple, Callable[[], _Arrays]] | None:
    """The cache key and reader of the first source present: batches, tarball, npz."""
    batches = _CIFAR_BATCHES[base]
    for folder in (directory / _CIFAR_DIR, directory):
        paths = [folder / batch for batch in batches]
        if all(p.is_file() for p in paths):
            key = ("cifar-files", *(file_key(p) for p in paths))
            return key, functools.partial(_read_cifar_files, paths)
    tarball = directory / _CIFAR_TARBALL
    if tarball.is_file():
        key = ("cifar-tar", file_key(tarball), batches)
        return key, functools.partial(_read_cifar_tar, tarball, batches)
    npz = _find_cifar_npz(directory)
    if npz is not None:
        return ("cifar-npz", file_key(npz), base), functools.partial(_read_cifar_npz, npz, base)
    return None


def _find_cifar_npz(directory: Path) -> Path | None:
    """The `.npz` of `directory` in Keras's layout; `cifar10*.npz` first, then by name."""
    candidates = sorted(directory.glob("*.npz"), key=lambda p: (not p.name.startswith("cifar"), p))
    for path in candidates:
        with contextlib.suppress(OSError, ValueError, zipfile.BadZipFile):
            with np.load(path, allow_pickle=False) as archive:
                if {"x_train", "x_test"} <= set(archive.files):
                    return path
    return None


def _read_cifar_npz(path: Path, base: str) -> _Arrays:
    """`x_<base>` (uint8 `[n, 32, 32, 3]`) and `y_<base>` (or -1 labels when absent)."""
    with decoding(f"CIFAR-10 arrays {path}"), np.load(path, allow_pickle=False) as archive:
        images = archive[f"x_{base}"]
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
            raise Malformed(
                f"x_{base} must be uint8 [n, 32, 32, 3], got {images.dtype} {list(images.shape)}"
            )
        labels = np.full(len(images), -1, np.int64)
        if f"y_{base}" in archive.files:
            labels = np.asarray(archive[f"y_{base}"]).reshape(-1).astype(np.int64)
            if len(labels) != len(images):
                raise Malformed(f"y_{base} has {len(labels)} labels for {len(images)} images")
    return readonly(np.ascontiguousarray(images)), readonly(labels)


def _read_cifar_files(paths: list[Path]) -> _Arrays:
    parts = []
    for path in paths:
        with decoding(f"CIFAR-10 batch {path}"):
            parts.append(_parse_sized(path.stat().st_size, path.read_bytes))
    return _concat_cifar(parts)


def _read_cifar_tar(path: Path, batches: tuple[str, ...]) -> _Arrays:
    found: dict[str, _Arrays] = {}
    with decoding(f"CIFAR-10 tarball {path}"), tarfile.open(path, mode="r:*") as tar:
        for member in tar:
            batch = posixpath.basename(member.name)
            if batch not in batches or batch in found or not member.isfile():
                continue
            with decoding(f"CIFAR-10 batch {member.name!r} in tarball {path}"):
                read = functools.partial(_read_tar_member, tar, member)
                found[batch] = _parse_sized(member.size, read)
            if len(found) == len(batches):
                break
        missing = [b for b in batches if b not in found]
        if missing:
            raise Malformed(f"the tarball has no member(s) {', '.join(missing)}")
    return _concat_cifar([found[b] for b in batches])


def _read_tar_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    stream = tar.extractfile(member)
    if stream is None:
        raise Malformed("cannot be read")
    return read_limited(stream, member.size)


def _parse_sized(size: int, read: Callable[[], bytes]) -> _Arrays:
    """Parses the batch ``read()`` returns, refusing one of absurd ``size`` unread."""
    if size > _MAX_CIFAR_BATCH_BYTES:
        raise Malformed(f"{size} bytes, too large for a batch")
    return parse_cifar_batch(read())


def _concat_cifar(parts: list[_Arrays]) -> _Arrays:
    images = np.concatenate([p[0] for p in parts], axis=0)
    labels = np.concatenate([p[1] for p in parts], axis=0)
    return readonly(images), readonly(labels)
