"""TensorFlow Datasets' prepared copies, from ``$TFDS_DATA_DIR``; never downloading."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from tf_graphvae.data._cache import cached, readonly
from tf_graphvae.data._files import first_line
from tf_graphvae.data._spec import DatasetSpec, RawSplit


def image_and_label(example: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
    """A TFDS example -> its ``image`` and ``label`` features, as they are."""
    return example["image"], example["label"]


@dataclasses.dataclass(frozen=True)
class FromTfds:
    """Reads a base split from TFDS (a ``DatasetSpec.load_default``).

    Attributes:
        scale: The divisor that maps the converted images to the dataset's values.
        convert: Maps a TFDS example to ``(image of the event shape, label)``.
        relabel: Maps ``(TFDS info, labels)`` to the labels to return (``None``: as is).
    """

    scale: float = 1.0
    convert: Callable[[dict[str, tf.Tensor]], tuple[tf.Tensor, tf.Tensor]] = image_and_label
    relabel: Callable[[Any, np.ndarray], np.ndarray] | None = None

    def __call__(self, spec: DatasetSpec, base: str, need_labels: bool) -> RawSplit:
        tfds_dir = os.environ.get("TFDS_DATA_DIR") or None
        try:
            images, labels = cached(
                ("tfds", spec.name, base, tfds_dir), lambda: self._read(spec, base, tfds_dir)
            )
        except Exception as err:
            raise _unavailable(spec, base, need_labels, tfds_dir, err) from err
        return images, self.scale, labels

    def _read(
        self, spec: DatasetSpec, base: str, tfds_dir: str | None
    ) -> tuple[np.ndarray, np.ndarray]:
        import tensorflow_datasets as tfds

        dataset, info = tfds.load(
            spec.name,
            split=base,
            data_dir=tfds_dir,
            download=False,
            shuffle_files=False,
            with_info=True,
        )
        pipeline = dataset.map(self.convert, num_parallel_calls=tf.data.AUTOTUNE).batch(4096)
        image_parts, label_parts = [], []
        for images, labels in pipeline:
            image_parts.append(images.numpy())
            label_parts.append(labels.numpy())
        if not image_parts:
            raise ValueError(f"TFDS split {base!r} of {spec.name!r} is empty")
        images = np.concatenate(image_parts, axis=0)
        labels = np.concatenate(label_parts, axis=0).astype(np.int64)
        if self.relabel is not None:
            labels = self.relabel(info, labels)
        if images.shape[1:] != spec.event_shape:
            raise ValueError(f"TFDS gave images of shape {images.shape[1:]} for {spec.name!r}")
        return readonly(images), readonly(labels)


def _unavailable(
    spec: DatasetSpec, base: str, need_labels: bool, tfds_dir: str | None, err: Exception
) -> FileNotFoundError:
    """The error for a split that neither a ``data_dir`` nor TFDS provides."""
    name = spec.name
    where = tfds_dir or "TFDS's default data directory (~/tensorflow_datasets)"
    return FileNotFoundError(
        f"No data for {name!r} split {base!r}: no data_dir was given and TensorFlow "
        f"Datasets could not provide it from {where} without downloading "
        f"({type(err).__name__}: {first_line(str(err))}). Either place "
        f"{spec.describe_files(base, need_labels)} in a directory and pass it as "
        f"data_dir=..., or prepare the TFDS dataset {name!r} (e.g. "
        f"tfds.builder({name!r}).download_and_prepare() where a network is available) "
        f"and set TFDS_DATA_DIR to its data directory."
    )
