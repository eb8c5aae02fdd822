"""The registry of datasets: each name's event shape, splits, likelihood and sources.

To add a dataset, write a module that reads its files (a ``load_split`` and a
``describe``, as :mod:`tf_graphvae.data._idx` has) and add one :class:`DatasetSpec`
below; its name also goes in :data:`tf_graphvae.config.DATASETS` (and, for a Bernoulli
likelihood, in ``BINARY_DATASETS``), which this module checks on import.
"""

from __future__ import annotations

from tf_graphvae.config import BINARY_DATASETS, DATASETS
from tf_graphvae.data import _cifar10, _digits, _idx, _omniglot
from tf_graphvae.data._spec import DatasetSpec, LocalFiles
from tf_graphvae.data._tfds import FromTfds

_IDX_FILES = LocalFiles(load=_idx.load_split, describe=_idx.describe)

REGISTRY: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="digits",
            event_shape=(8, 8, 1),
            splits=("train", "test"),
            binary=True,
            local=None,  # always scikit-learn's copy; data_dir is ignored
            load_default=_digits.load_split,
        ),
        DatasetSpec(
            name="mnist",
            event_shape=(28, 28, 1),
            splits=("train", "test"),
            binary=True,
            local=_IDX_FILES,
            load_default=FromTfds(scale=255.0),
        ),
        DatasetSpec(
            name="fashion_mnist",
            event_shape=(28, 28, 1),
            splits=("train", "test"),
            binary=True,
            local=_IDX_FILES,
            load_default=FromTfds(scale=255.0),
        ),
        DatasetSpec(
            name="omniglot",
            event_shape=(28, 28, 1),
            splits=("train", "test", "small1", "small2", *_omniglot.GENERATIVE_SPLITS),
            binary=True,
            local=LocalFiles(load=_omniglot.load_split, describe=_omniglot.describe),
            load_default=_omniglot.load_default,
        ),
        DatasetSpec(
            name="cifar10",
            event_shape=(32, 32, 3),
            splits=("train", "test"),
            binary=False,
            local=LocalFiles(load=_cifar10.load_split, describe=_cifar10.describe),
            load_default=FromTfds(),
        ),
    )
}

if tuple(REGISTRY) != DATASETS or (
    tuple(name for name, spec in REGISTRY.items() if spec.binary) != BINARY_DATASETS
):
    raise ImportError(
        "The dataset registry of tf_graphvae.data disagrees with tf_graphvae.config's "
        "DATASETS or BINARY_DATASETS."
    )
