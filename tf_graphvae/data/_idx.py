"""MNIST and Fashion-MNIST from the publishers' IDX files (gzip-compressed or not)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

import numpy as np

from tf_graphvae.data._cache import cached, file_key, readonly
from tf_graphvae.data._files import FileError, Malformed, decoding, missing_files, read_limited
from tf_graphvae.data._spec import RawSplit

_IDX_PREFIX = {"train": "train", "test": "t10k"}
_IDX_IMAGES_MAGIC = 0x00000803
_IDX_LABELS_MAGIC = 0x00000801
_IDX_MAX_EXAMPLES = 2_000_000  # MNIST has 70,000; refuse headers that claim gigabytes


def describe(base: str, need_labels: bool) -> str:
    """The IDX files a ``data_dir`` must hold for split ``base``, in words."""
    files = [f"{_stem(base, 'images')}.gz"]
    if need_labels:
        files.append(f"{_stem(base, 'labels')}.gz")
    return " and ".join(files) + " (uncompressed names without .gz are also accepted)"


def load_split(name: str, base: str, directory: Path, need_labels: bool) -> RawSplit:
    """The images (0..255) of split ``base``, and its labels if ``need_labels``."""
    images_path, image_names = _find_idx(directory, base, "images")
    labels_path, label_names = _find_idx(directory, base, "labels")
    missing = []
    if images_path is None:
        missing.append(f"{image_names[0]} (or {image_names[1]})")
    if need_labels and labels_path is None:
        missing.append(f"{label_names[0]} (or {label_names[1]})")
    if missing:
        raise missing_files(name, base, directory, missing)
    assert images_path is not None
    images = cached(
        ("idx", file_key(images_path), "images"),
        lambda: readonly(_read_idx(images_path, labels=False)),
    )
    labels = None
    if need_labels:
        assert labels_path is not None
        labels = cached(
            ("idx", file_key(labels_path), "labels"),
            lambda: readonly(_read_idx(labels_path, labels=True)),
        )
        if len(labels) != len(images):
            raise FileError(
                f"IDX label file {labels_path} has {len(labels)} labels but image file "
                f"{images_path} has {len(images)} images."
            )
    return images, 255.0, labels


def _stem(base: str, kind: str) -> str:
    ndim = 3 if kind == "images" else 1
    return f"{_IDX_PREFIX[base]}-{kind}-idx{ndim}-ubyte"


def _find_idx(directory: Path, base: str, kind: str) -> tuple[Path | None, list[str]]:
    stem = _stem(base, kind)
    names = [f"{stem}.gz", stem]
    for file_name in names:
        if (directory / file_name).is_file():
            return directory / file_name, names
    return None, names


def _read_idx(path: Path, *, labels: bool) -> np.ndarray:
    """Reads one IDX file (gzip-compressed or not): images [n, 28, 28, 1] or labels [n]."""
    kind = "labels" if labels else "images"
    expected_magic = _IDX_LABELS_MAGIC if labels else _IDX_IMAGES_MAGIC
    with decoding(f"IDX {kind} file {path}"), path.open("rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        header = read_limited(stream, 4)
        if len(header) < 4:
            raise Malformed(f"only {len(header)} bytes, shorter than the 4-byte IDX header")
        magic = int.from_bytes(header, "big")
        if magic != expected_magic:
            raise Malformed(
                f"wrong magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
                f"(unsigned bytes, {1 if labels else 3} dimension(s)) for IDX {kind}"
            )
        ndim = magic & 0xFF
        dims_bytes = read_limited(stream, 4 * ndim)
        if len(dims_bytes) < 4 * ndim:
            raise Malformed(f"header truncated: {ndim} dimension sizes expected")
        dims = struct.unpack(f">{ndim}I", dims_bytes)
        if dims[0] > _IDX_MAX_EXAMPLES:
            raise Malformed(f"the header claims an implausible {dims[0]} examples")
        if not labels and dims[1:] != (28, 28):
            raise Malformed(
                f"wrong image dimensions {dims[1]}x{dims[2]}, expected 28x28 "
                f"(header says {dims[0]} images)"
            )
        count = int(np.prod(dims, dtype=np.int64))
        payload = read_limited(stream, count + 1)
        if len(payload) < count:
            raise Malformed(
                f"truncated: the header {tuple(dims)} says {count} bytes of data, "
                f"only {len(payload)} present"
            )
        if len(payload) > count:
            raise Malformed(
                f"more data than the header {tuple(dims)} says ({count} bytes expected)"
            )
        array = np.frombuffer(payload, dtype=np.uint8).reshape(dims)
        if labels:
            if array.size and array.max() > 9:
                raise Malformed(f"label {int(array.max())} out of range 0..9")
            return array.astype(np.int64)
        return array.reshape(dims[0], 28, 28, 1).copy()
