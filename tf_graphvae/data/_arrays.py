"""A user's own arrays: numpy in memory (`from_arrays`) or an `.npz` file (`npz:<path>`).

The likelihood follows from the values when it is not given (`infer_likelihood`): data in
[0, 1] are Bernoulli (binarised afresh every training step, as the images of the named
datasets are), 8-bit integers 0..255 the discretised logistic, anything else continuous
(the Gaussian; standardise it first).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from tf_graphvae.config import LIKELIHOODS, NPZ_PREFIX, VALUE_RANGES
from tf_graphvae.data._cache import cached, file_key, readonly
from tf_graphvae.data._spec import DatasetSpec, RawSplit


def infer_likelihood(x) -> str:
    """`"bernoulli"` for values in [0, 1], `"discretized_logistic"` for 8-bit data (uint8,
    or integers in 0..255 that reach 128 or more), else `"gaussian"`.

    Integers within 0..127 (e.g. scikit-learn's digits, 0..16) are not guessed: the 8-bit
    likelihood would put most of its mass where the data never are, and a Gaussian would
    ignore that they are counts. Scale them to [0, 1], or name the likelihood.

    Raises:
        ValueError: for an array that is empty, not numeric or not finite, or integers
            within 0..127.
    """
    x = _numeric(x)
    low, high = float(x.min()), float(x.max())
    if low >= 0.0 and high <= 1.0:
        return "bernoulli"
    if x.dtype == np.uint8:
        return "discretized_logistic"
    if low >= 0 and high <= 255 and np.all(x == np.round(x)):
        if high >= 128:
            return "discretized_logistic"
        raise ValueError(
            f"Integers in {low:g}..{high:g} are not 8-bit data (0..255): scale them to [0, 1] "
            "for the bernoulli likelihood, or name the likelihood (gaussian or "
            "discretized_logistic)."
        )
    return "gaussian"


def check_values(x, likelihood: str, what: str = "the data") -> None:
    """Raises a ValueError unless `x`'s values suit the named likelihood."""
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"Unknown likelihood {likelihood!r}; expected one of {LIKELIHOODS}.")
    low, high = VALUE_RANGES[likelihood]
    if x.min() < low or x.max() > high:
        raise ValueError(
            f"The {likelihood} likelihood needs values in [{low:g}, {high:g}]; {what} has "
            f"values in [{float(x.min()):g}, {float(x.max()):g}]."
        )


def as_examples(x, likelihood: str | None = None) -> tuple[np.ndarray, str]:
    """`x` as float32 examples `[n, *event_shape]` and its likelihood (inferred if None)."""
    x = _numeric(x)
    if x.ndim < 2:
        raise ValueError(
            f"Expected examples [n, *event_shape] (at least 2 axes), got shape {list(x.shape)}."
        )
    likelihood = likelihood or infer_likelihood(x)
    check_values(x, likelihood)
    return x.astype(np.float32), likelihood


def _numeric(x) -> np.ndarray:
    x = np.asarray(x)
    if x.size == 0:
        raise ValueError("The array holds no examples.")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"Expected a numeric array, got dtype {x.dtype}.")
    if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        nan, inf = int(np.isnan(x).sum()), int(np.isinf(x).sum())
        raise ValueError(
            f"The array holds {nan} NaN and {inf} infinite values (of {x.size}); "
            "remove or impute them first."
        )
    return x


# ----------------------------------------------------------------------------- npz files
def npz_path(name: str) -> Path:
    return Path(name[len(NPZ_PREFIX) :]).expanduser()


def npz_spec(name: str) -> DatasetSpec:
    """The registry record of `npz:<path>`: splits `train` and `test` (`x_train`,
    `x_test`, optional `y_train`, `y_test`), its event shape and likelihood from
    `x_train`."""
    x_train = _read_npz(npz_path(name), "train")[0]
    return DatasetSpec(
        name=name,
        event_shape=tuple(int(s) for s in x_train.shape[1:]),
        splits=("train", "test"),
        binary=infer_likelihood(x_train) == "bernoulli",
        local=None,  # the path is in the name; data_dir is ignored
        load_default=_load_npz_split,
    )


def npz_likelihood(name: str) -> str:
    return infer_likelihood(_read_npz(npz_path(name), "train")[0])


def _load_npz_split(spec: DatasetSpec, base: str, need_labels: bool) -> RawSplit:
    images, labels = _read_npz(npz_path(spec.name), base)
    if need_labels and labels is None:
        raise ValueError(f"{npz_path(spec.name)} has no y_{base} labels.")
    return images, 1.0, labels


def _read_npz(path: Path, base: str) -> tuple[np.ndarray, np.ndarray | None]:
    """`x_<base>` and `y_<base>` (or None) of an npz file, read-only and cached."""
    if not path.is_file():
        raise FileNotFoundError(f"No npz file {str(path)!r}.")
    return cached(("npz", *file_key(path), base), lambda: _decode(path, base))


def _decode(path: Path, base: str) -> tuple[np.ndarray, np.ndarray | None]:
    if not zipfile.is_zipfile(path):  # np.load would suggest allow_pickle for any non-npz
        raise ValueError(
            f"npz file {str(path)!r} is not an npz archive (np.savez writes one, with arrays "
            "x_train and x_test)."
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            if f"x_{base}" not in archive.files:
                raise ValueError(f"has no array x_{base} (it holds {', '.join(archive.files)})")
            images = np.ascontiguousarray(archive[f"x_{base}"])
            labels = archive[f"y_{base}"] if f"y_{base}" in archive.files else None
        try:
            images, _ = as_examples(images)
        except ValueError as error:  # name the array
            raise ValueError(f"x_{base}: {error}") from None
        if labels is not None:
            labels = np.asarray(labels).reshape(-1).astype(np.int64)
            if len(labels) != len(images):
                raise ValueError(f"y_{base} has {len(labels)} labels for {len(images)} examples")
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"npz file {str(path)!r}: {error}") from None
    return readonly(images), None if labels is None else readonly(labels)
