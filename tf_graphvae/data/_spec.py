"""The record the registry keeps of each dataset (see :mod:`tf_graphvae.data._registry`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

RawSplit = tuple[np.ndarray, float, np.ndarray | None]
"""A base split as a source gives it: read-only (cached) raw images, the divisor that maps
them to float values, and the labels (``None`` where they were not asked for)."""


@dataclasses.dataclass(frozen=True)
class LocalFiles:
    """How a dataset is read from the publisher's own files in a ``data_dir``."""

    load: Callable[[str, str, Path, bool], RawSplit]
    """``(name, base, directory, need_labels)`` -> the base split."""

    describe: Callable[[str, bool], str]
    """``(base, need_labels)`` -> the files a ``data_dir`` must hold for the split, in words."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """One dataset: its name, event shape, base splits, likelihood and sources."""

    name: str
    event_shape: tuple[int, int, int]
    splits: tuple[str, ...]
    binary: bool
    """Whether the images are in [0, 1] with a Bernoulli likelihood (else 0..255)."""

    local: LocalFiles | None
    """The reader of a ``data_dir``; ``None`` when the data ship with a library and
    ``data_dir`` is ignored."""

    load_default: Callable[[DatasetSpec, str, bool], RawSplit]
    """``(spec, base, need_labels)`` -> the base split without a ``data_dir`` (TFDS), or
    always when :attr:`local` is ``None``."""

    def describe_files(self, base: str, need_labels: bool) -> str:
        """The files a ``data_dir`` must hold for split ``base``, in words."""
        return self.local.describe(base, need_labels) if self.local is not None else ""
