"""Omniglot from the publisher's zip archives of 105x105 PNGs, and its TFDS conversion.

Images are inverted (strokes 1) and area-resized to 28x28; labels index the alphabets of a
split sorted by name.

Two protocols use these archives. The cross-alphabet one (Lake et al.) trains on
``train`` (the 30 background alphabets) and tests on ``test`` (20 other alphabets). The
generative-modelling one (IWAE, Ladder VAE, Graph VAE) draws both sides from all 50
alphabets: ``generative_train`` holds every character's drawers 1-15 (24,345 images) and
``generative_test`` its drawers 16-20 (8,115), so no drawing is on both sides. This is the
construction of Burda et al.'s 28x28 split (24,345 / 8,070), not a copy of its file.
"""

from __future__ import annotations

import posixpath
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tf_graphvae.data._cache import cached, file_key, readonly
from tf_graphvae.data._files import Malformed, decoding, first_line, missing_files, read_limited
from tf_graphvae.data._spec import RawSplit
from tf_graphvae.data._tfds import FromTfds

_OMNIGLOT_ZIPS = {
    "train": "images_background.zip",
    "test": "images_evaluation.zip",
    "small1": "images_background_small1.zip",
    "small2": "images_background_small2.zip",
}
# The generative-modelling splits: both archives, each character's drawers split 15 / 5.
GENERATIVE_SPLITS = {"generative_train": range(1, 16), "generative_test": range(16, 21)}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_PNG_BYTES = 16 << 20  # an Omniglot PNG is ~1 KB; refuse absurd members (zip bombs)
_MAX_PNG_SIDE = 2048  # Omniglot's are 105x105


def _archives(base: str) -> list[str]:
    if base in GENERATIVE_SPLITS:
        return [_OMNIGLOT_ZIPS["train"], _OMNIGLOT_ZIPS["test"]]
    return [_OMNIGLOT_ZIPS[base]]


def describe(base: str, need_labels: bool) -> str:
    """The archive(s) a ``data_dir`` must hold for split ``base``."""
    return " and ".join(_archives(base))


def load_split(name: str, base: str, directory: Path, need_labels: bool) -> RawSplit:
    """The images (in [0, 1]) and alphabet labels of split ``base``."""
    paths = [directory / archive for archive in _archives(base)]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise missing_files(name, base, directory, missing)
    parts = [cached(("omniglot-zip", file_key(p)), lambda p=p: _read_omniglot(p)) for p in paths]
    if base not in GENERATIVE_SPLITS:
        images, alphabets, _ = parts[0]
        return images, 1.0, _alphabet_indices(list(alphabets))
    images = np.concatenate([part[0] for part in parts])
    alphabets = np.concatenate([part[1] for part in parts])
    drawers = np.concatenate([part[2] for part in parts])
    keep = np.isin(drawers, list(GENERATIVE_SPLITS[base]))
    return readonly(images[keep]), 1.0, _alphabet_indices(list(alphabets[keep]))


def load_default(spec: Any, base: str, need_labels: bool) -> RawSplit:
    """Omniglot without a ``data_dir``: TFDS, which has no drawers, so no generative split."""
    if base in GENERATIVE_SPLITS:
        raise FileNotFoundError(
            f"Omniglot split {base!r} is built from the publisher's archives "
            f"({describe(base, need_labels)}): TensorFlow Datasets' copy does not record the "
            "drawers. Pass data_dir=<folder with both archives>."
        )
    return _FROM_TFDS(spec, base, need_labels)


def tfds_example(example: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
    """A TFDS Omniglot example -> its converted image and its alphabet's TFDS index."""
    grey = tf.image.rgb_to_grayscale(example["image"])
    return _omniglot_to_28(grey), example["alphabet"]


def tfds_labels(info: Any, labels: np.ndarray) -> np.ndarray:
    """TFDS alphabet indices -> indices among the split's alphabets sorted by name."""
    names = info.features["alphabet"].names
    return _alphabet_indices([names[i] for i in labels])


def _read_omniglot(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decodes an Omniglot archive ``<top>/<alphabet>/<character>/<NNNN_DD>.png`` into its
    images, each image's alphabet name and its drawer ``DD``."""
    with decoding(f"Omniglot archive {path}"):
        blobs, member_names, alphabets, drawers = [], [], [], []
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
                raise Malformed("no PNG images in the archive")
            for info in sorted(infos, key=lambda i: i.filename):
                parts = [p for p in info.filename.split("/") if p]
                if len(parts) < 3:
                    raise Malformed(
                        f"member {info.filename!r} is not <alphabet>/<character>/<image>.png"
                    )
                blobs.append(_read_png_member(archive, info))
                member_names.append(info.filename)
                alphabets.append(parts[-3])
                drawers.append(_drawer(info.filename))
        images = _decode_pngs(blobs, member_names)
        return readonly(images), readonly(np.array(alphabets)), readonly(np.array(drawers))


def _drawer(member: str) -> int:
    """The drawer of ``.../<character id>_<drawer>.png`` (1..20 in the publisher's files)."""
    stem = posixpath.basename(member)[: -len(".png")]
    drawer = stem.rpartition("_")[2]
    if not drawer.isdigit():
        raise Malformed(f"member {member!r} is not named <character id>_<drawer>.png")
    return int(drawer)


def _read_png_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The bytes of one member, checked to be a PNG of plausible size."""
    if info.file_size > _MAX_PNG_BYTES:
        raise Malformed(f"member {info.filename!r} is {info.file_size} bytes")
    with archive.open(info) as member:
        blob = read_limited(member, _MAX_PNG_BYTES + 1)
    if not blob.startswith(_PNG_SIGNATURE) or blob[12:16] != b"IHDR":
        raise Malformed(f"member {info.filename!r} is not a PNG file")
    width, height = struct.unpack(">II", blob[16:24])
    if max(width, height) > _MAX_PNG_SIDE:  # a tiny file can claim a huge image
        raise Malformed(f"member {info.filename!r} is {width}x{height} pixels")
    return blob


def _alphabet_indices(alphabets: list[str]) -> np.ndarray:
    """Each alphabet's index among the given alphabets sorted by name."""
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
            raise Malformed(
                f"member {member!r} is not a decodable PNG: {first_line(err.message)}"
            ) from None
    raise Malformed("the PNG images could not be decoded")


_FROM_TFDS = FromTfds(convert=tfds_example, relabel=tfds_labels)
