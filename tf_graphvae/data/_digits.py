"""scikit-learn's 1,797 digits: the first 1,437 are ``train``, the last 360 ``test``."""

from __future__ import annotations

import numpy as np

from tf_graphvae.data._cache import cached, readonly
from tf_graphvae.data._spec import DatasetSpec, RawSplit

_DIGITS_TRAIN = 1437  # first 1,437 of sklearn's 1,797 digits; the last 360 are `test`.


def load_split(spec: DatasetSpec, base: str, need_labels: bool) -> RawSplit:
    """The digits of split ``base`` (values 0..16) with their labels; no files needed."""
    images, labels = cached(("digits",), _read_digits)
    part = slice(0, _DIGITS_TRAIN) if base == "train" else slice(_DIGITS_TRAIN, None)
    return images[part], 16.0, labels[part]


def _read_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images).reshape(-1, 8, 8, 1)
    return (
        readonly(np.rint(images).astype(np.uint8)),
        readonly(np.asarray(bunch.target, dtype=np.int64)),
    )
